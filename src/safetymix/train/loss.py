"""The ``"plain"`` loss kernel of ``safetymix train``: cross-entropy on the response tokens only.

torch is imported inside the function, so importing this module is cheap.
"""

from __future__ import annotations

from safetymix.errors import ConfigError


def plain_loss_trainer(base: type) -> type:
    """``base`` (TRL's ``SFTTrainer``) with a plain cross-entropy loss on the response tokens.

    TRL computes the loss through a fused, chunked LM head (plus entropy and token
    accuracy); on CPU that costs more than the whole rest of a step for a small model. Here
    the model's own forward projects only the positions that predict a labelled token (the
    ``logits_to_keep`` boolean mask of transformers' causal LMs) and the loss is the mean
    cross-entropy over those tokens: the same loss as TRL's, and TRL's data preparation,
    completion-only masking and collation stay as they are.
    """
    import torch
    import torch.nn.functional as F

    class PlainLossSFTTrainer(base):  # type: ignore[misc, valid-type]
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            labels = inputs.pop("labels")
            inputs["use_cache"] = False
            # Position t predicts token t + 1: keep the positions whose next token is labelled.
            keep = torch.zeros_like(labels, dtype=torch.bool)
            keep[:, :-1] = labels[:, 1:] != -100
            targets = labels[:, 1:][keep[:, :-1]]
            outputs = model(**inputs, logits_to_keep=keep)
            logits = outputs.logits
            if logits.dim() != 2 or logits.shape[0] != targets.shape[0]:
                raise ConfigError(
                    f"{type(model).__name__} does not take a boolean logits_to_keep mask "
                    "(needs a recent transformers); use loss_kernel='trl'"
                )
            n_tokens = targets.numel() if num_items_in_batch is None else num_items_in_batch
            loss = F.cross_entropy(logits.float(), targets, reduction="sum")
            loss = loss / torch.as_tensor(n_tokens, device=loss.device).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes
            return (loss, outputs) if return_outputs else loss

    return PlainLossSFTTrainer
