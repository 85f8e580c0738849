# ruff: noqa: RUF001  (CJK prompts use full-width punctuation on purpose)
"""The built-in heuristic classifier, its evaluation set and the evaluation command."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from omni_proxy.classifier import heuristic_classify
from omni_proxy.routing.evaluate import (
    DEFAULT_DATA,
    aevaluate,
    evaluate,
    load_classifier,
    load_rows,
    main,
)
from omni_proxy.types import TASK_TYPES, Classification

DATA_DIR = Path(__file__).parent / "data"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}


def user(text: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def task(body: dict[str, Any]) -> str:
    return heuristic_classify(body).task_type


# --- structure decides first -----------------------------------------------------------


def test_a_tool_result_last_is_an_agent_step_even_without_tools() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"summary": "snow"}'},
        ]
    }
    result = heuristic_classify(body)
    assert result.task_type == "agent_step"
    assert "last_tool_result" in result.signals
    assert task({**body, "tools": TOOLS}) == "agent_step"


def test_a_legacy_function_result_last_is_an_agent_step() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "function", "name": "get_weather", "content": "{}"},
        ]
    }
    assert task(body) == "agent_step"


def test_tools_on_offer_make_an_agent_step_whatever_the_text_asks() -> None:
    assert task(user("Translate 'good night' into Italian.", tools=TOOLS)) == "agent_step"
    assert task(user("Write a Python function to sort a list.", tools=TOOLS)) == "agent_step"
    legacy = user("Is it raining?", functions=[TOOLS[0]["function"]])
    assert task(legacy) == "agent_step"


def test_an_empty_tools_list_is_not_an_agent_step() -> None:
    assert task(user("What's a good name for a goldfish?", tools=[])) == "chat"


def test_an_image_in_the_latest_user_turn_is_image_whatever_the_text_asks() -> None:
    assert task(user([IMAGE])) == "image"
    assert task(user([{"type": "text", "text": "Translate the sign in this photo."}, IMAGE])) == (
        "image"
    )
    code_screenshot = user([{"type": "text", "text": "What's wrong with my code?"}, IMAGE])
    assert task(code_screenshot) == "image"
    # An image beats tools on offer: the request needs a vision model first.
    assert task(user([IMAGE, {"type": "text", "text": "File this receipt."}], tools=TOOLS)) == (
        "image"
    )


def test_an_image_only_in_an_earlier_turn_does_not_decide() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [IMAGE, {"type": "text", "text": "My living room."}]},
            {"role": "assistant", "content": "Nice room, with a grey sofa."},
            {"role": "user", "content": "How do you say 'living room' in German?"},
        ]
    }
    assert task(body) == "translation"


@pytest.mark.parametrize(
    "prompt",
    [
        "Generate an image of a lighthouse in a storm.",
        "Draw me a cartoon cat wearing a spacesuit.",
        "Create a logo for my bakery, warm colours.",
        "a watercolor painting of a harbour at dawn, soft pastel tones, highly detailed",
        "Dibuja un perro astronauta.",
        "Génère une image d'un chat dans un café.",
        "Erstelle ein Bild von einem Fuchs im Wald.",
        "画一只在月亮上钓鱼的熊猫",
    ],
)
def test_an_ask_to_generate_a_picture_is_image(prompt: str) -> None:
    assert task(user(prompt)) == "image"


@pytest.mark.parametrize(
    "prompt",
    [
        "How do I draw a realistic eye with a pencil?",
        "Draw up a weekly meal plan for a vegetarian teenager.",
        "How do I draw the line between helping and enabling?",
        "What makes a good portrait photo?",
    ],
)
def test_talking_about_pictures_is_not_image(prompt: str) -> None:
    assert task(user(prompt)) == "chat"


# --- language cues ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "Comment faire une pâte brisée qui ne se rétracte pas à la cuisson ?",
        "Wie lange muss ich ein Ei kochen, damit das Eigelb weich bleibt?",
        "¿Cuál es la mejor época para visitar la Patagonia?",
        "周末在北京有什么适合带小孩去的地方？",
        "東京で雨の日に楽しめる観光スポットを教えてください。",
        "Как научиться вставать рано утром?",
    ],
)
def test_text_in_another_language_is_not_translation(prompt: str) -> None:
    assert task(user(prompt)) == "chat"


@pytest.mark.parametrize(
    "prompt",
    [
        "Translate into French: 'The meeting moved to Thursday.'",
        "How do you say 'where is the pharmacy' in Spanish?",
        "Traduce al inglés: 'Me encantaría visitarte el próximo verano.'",
        "Traduis en anglais : « Nous avons bien reçu votre dossier. »",
        "Übersetze bitte ins Englische: 'Wir melden uns bald.'",
        "把这句话翻译成英文：我们下周一开会。",
        "What does 'Schadenfreude' mean in English?",
        "What's 'thank you very much' in Thai?",
    ],
)
def test_explicit_translation_requests(prompt: str) -> None:
    assert task(user(prompt)) == "translation"


def test_metaphorical_translate_is_not_translation() -> None:
    prompt = "How does this new scheduling policy translate into day-to-day changes for staff?"
    assert task(user(prompt)) == "chat"


def test_a_translator_system_prompt_makes_a_bare_text_translation() -> None:
    body = {
        "messages": [
            {
                "role": "system",
                "content": "You are a translator. Translate the user's text into English.",
            },
            {"role": "user", "content": "Hola, ¿todavía tienen habitaciones libres?"},
        ]
    }
    result = heuristic_classify(body)
    assert result.task_type == "translation"
    assert any(s.startswith("sys:") for s in result.signals)


@pytest.mark.parametrize(
    "prompt",
    [
        "What's the difference between a list and a tuple in Python?",
        "What's the point of dependency injection? It looks like boilerplate to me.",
        "Explain what a race condition is, with a real-world analogy.",
        "How do I undo my last git commit but keep the changes?",
        "Wie kann ich in TypeScript einen Typ definieren, der alle Schlüssel optional macht?",
    ],
)
def test_a_question_about_code_without_code_is_coding(prompt: str) -> None:
    assert task(user(prompt)) == "coding"


def test_code_stack_traces_and_code_conversion_are_coding() -> None:
    trace = (
        'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
        "    main()\nKeyError: 'user'\n\nwhy?"
    )
    assert task(user(trace)) == "coding"
    fence = "Translate this Python into Go:\n```python\ndef f(x):\n    return x * 2\n```"
    assert task(user(fence)) == "coding"
    summarize_code = "Summarize what this does:\n```js\nconst f = (a) => a.map((x) => x * 2);\n```"
    assert task(user(summarize_code)) == "coding"


def test_words_that_only_look_like_code_are_chat() -> None:
    assert task(user("What's the dress code for a black-tie optional wedding?")) == "chat"
    assert task(user("Is a ball python a good first pet for a small apartment?")) == "chat"


@pytest.mark.parametrize(
    "prompt",
    [
        "A farmer has chickens and cows. There are thirty heads and eighty-four legs. "
        "How many of each animal does he have?",
        "When I was six, my sister was half my age. Now I'm seventy. How old is my sister?",
        "Prove that the square root of 2 is irrational.",
        "Solve for x: 3x + 7 = 22",
        "What is the probability of rolling at least one six in four rolls of a die?",
        "Mary is older than Tom but younger than Sue. Sue is younger than Raj. Who is second?",
        "Un escargot monte un mur de 10 mètres, 3 mètres par jour et glisse de 2 la nuit. "
        "En combien de jours atteint-il le sommet ?",
    ],
)
def test_word_problems_proofs_and_puzzles_are_reasoning(prompt: str) -> None:
    assert task(user(prompt)) == "reasoning"


def test_summarization_in_several_languages_and_from_a_system_prompt() -> None:
    paste = (
        "The council voted on Tuesday to expand the bike-lane network by 40 km over three "
        "years. Supporters pointed to injury figures; shop owners worried about parking. "
    ) * 8
    for ask in (
        "Summarize this in 3 bullet points.",
        "tl;dr pls",
        "Can you boil this down to what I need to know?",
        "Resume este texto en tres frases.",
        "Fais-moi un résumé de ce texte.",
        "Fasse den Text in drei Stichpunkten zusammen.",
        "请总结一下这篇文章。",
    ):
        assert task(user(f"{ask}\n\n{paste}")) == "summarization", ask
    body = {
        "messages": [
            {
                "role": "system",
                "content": "Summarize every document the user sends in five bullets.",
            },
            {"role": "user", "content": paste},
        ]
    }
    assert task(body) == "summarization"


def test_asking_how_to_write_a_summary_is_chat_and_a_paste_with_another_ask_is_not_summary() -> (
    None
):
    assert task(user("How do I summarize my experience on a resume?")) == "chat"
    letter = ("I am writing to apply for the position of coordinator. " * 20).strip()
    assert task(user(letter + "\n\nCan you proofread this and fix the grammar?")) == "chat"


def test_a_short_follow_up_leans_on_the_previous_turn() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Translate into English: 'Votre commande a été expédiée.'"},
            {"role": "assistant", "content": "Your order has been shipped."},
            {
                "role": "user",
                "content": "now do the same for this one: 'Merci de votre confiance.'",
            },
        ]
    }
    assert task(body) == "translation"
    # An unrelated new question does not inherit the previous task.
    body["messages"][-1]["content"] = "Why do cats knead blankets?"
    assert task(body) == "chat"


# --- the result and odd input -------------------------------------------------------------


def test_the_result_is_a_heuristic_classification_with_signals() -> None:
    result = heuristic_classify(user("Translate into German: 'Thanks for your patience.'"))
    assert isinstance(result, Classification)
    assert result.classifier == "heuristic"
    assert 0.0 < result.confidence <= 1.0
    assert result.signals and all(isinstance(s, str) for s in result.signals)
    assert result.task_type in TASK_TYPES


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": "hello"},
        {"messages": [None, 3, "x"]},
        {"messages": [{"role": "user", "content": None}]},
        {"messages": [{"role": "user", "content": {"text": "odd"}}]},
        {"messages": [{"role": "user", "content": [None, 5, {"type": "text", "text": 7}]}]},
        {"messages": [{"role": "assistant", "content": "no user turn"}]},
    ],
)
def test_odd_bodies_classify_as_chat_without_raising(body: dict[str, Any]) -> None:
    result = heuristic_classify(body)
    assert result.task_type == "chat"
    assert result.classifier == "heuristic"


def test_completions_and_responses_shapes_are_read() -> None:
    assert task({"prompt": "Translate into French: 'good morning'"}) == "translation"
    assert task({"prompt": ["def f(x):\n    return x == 1\n", "why?"]}) == "coding"
    assert task({"input": "Summarize the plot of Hamlet in three sentences."}) == "summarization"
    responses = {
        "instructions": "You translate the user's text into English.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hola amigo"}]}],
    }
    assert task(responses) == "translation"
    image = {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}
    assert task(image) == "image"
    tool_output = {
        "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "{}"},
        ]
    }
    assert task(tool_output) == "agent_step"
    assert task({"instructions": "Be nice."}) == "chat"


def test_only_a_bounded_window_is_read() -> None:
    filler = "The committee met again and discussed the budget at length. " * 35_000  # ~2 MB
    assert len(filler) > 2_000_000
    assert task(user("Translate into French:\n\n" + filler)) == "translation"
    assert task(user(filler + "\n\nSummarize this in three bullet points.")) == "summarization"
    # Many content parts and a very long conversation are cut to their ends as well.
    parts = [{"type": "text", "text": "blah"}] * 200_000 + [
        {"type": "text", "text": "Write a bash one-liner that counts lines in every .py file."}
    ]
    assert task(user(parts)) == "coding"
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    long_chat = {
        "messages": history * 100_000
        + [{"role": "user", "content": "How do you say 'thank you' in Japanese?"}]
    }
    assert task(long_chat) == "translation"


# --- the evaluation set and the evaluation command ----------------------------------------


def test_the_eval_set_is_large_varied_and_well_formed() -> None:
    rows = load_rows(DATA_DIR / "task_eval.jsonl")
    assert len(rows) >= 400
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    counts = {t: 0 for t in TASK_TYPES}
    for row in rows:
        assert row["label"] in TASK_TYPES
        assert row["source"]
        messages = row["body"]["messages"]
        assert isinstance(messages, list) and messages
        counts[row["label"]] += 1
    assert all(n >= 45 for n in counts.values()), counts


def test_the_eval_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_task_eval", DATA_DIR / "make_task_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = [json.dumps(r, ensure_ascii=False) for r in module.build()]
    on_disk = (DATA_DIR / "task_eval.jsonl").read_text(encoding="utf-8").splitlines()
    assert built == on_disk


def test_the_heuristic_meets_its_bar_on_the_eval_set() -> None:
    report = evaluate(heuristic_classify, load_rows(DEFAULT_DATA))
    assert report.macro_accuracy >= 0.90, report.format(show_errors=40)
    low = {k: s.recall for k, s in report.per_type.items() if s.recall < 0.8}
    assert not low, report.format(show_errors=40)


def test_evaluate_counts_precision_recall_and_the_confusion_matrix() -> None:
    rows = [
        {"id": "a", "label": "chat", "body": user("hello")},
        {"id": "b", "label": "coding", "body": user("hello")},
        {"id": "c", "label": "coding", "body": user("How do I undo a git commit?")},
    ]
    report = evaluate(heuristic_classify, rows)
    assert report.total == 3 and report.correct == 2
    assert report.confusion == {"chat": {"chat": 1}, "coding": {"chat": 1, "coding": 1}}
    assert report.per_type["chat"].precision == 0.5
    assert report.per_type["coding"].recall == 0.5
    assert report.macro_accuracy == 0.75
    assert report.errors == [("b", "coding", "chat")]
    assert len(report.timings_ms) == 3
    text = report.format(show_errors=5)
    assert "macro accuracy" in text and "confusion matrix" in text and "b " in text


async def _async_classifier(body: dict[str, Any]) -> Classification:
    return heuristic_classify(body)


def _abstaining_classifier(body: dict[str, Any]) -> None:
    return None


def test_evaluate_awaits_async_classifiers_and_counts_abstentions() -> None:
    rows = [{"id": "a", "label": "translation", "body": user("Translate 'hi' into Spanish.")}]
    report = evaluate(_async_classifier, rows)
    assert report.correct == 1 and report.awaited == 1
    none_report = evaluate(_abstaining_classifier, rows)
    assert none_report.errors == [("a", "translation", "(none)")]


async def test_aevaluate_runs_inside_a_loop_where_evaluate_refuses() -> None:
    rows = [{"id": "a", "label": "chat", "body": user("hello")}]
    report = await aevaluate(_async_classifier, rows)
    assert report.correct == 1
    with pytest.raises(RuntimeError, match="aevaluate"):
        evaluate(heuristic_classify, rows)


def test_main_prints_the_report_and_honours_fail_under(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "mini.jsonl"
    rows = [
        {"id": "x1", "label": "translation", "body": user("Translate 'cat' into German.")},
        {"id": "x2", "label": "chat", "body": user("Why is the sky blue?")},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert main([str(data), "--errors", "3"]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "p50" in out and "~4k-token prompt" in out
    assert main([str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["macro_accuracy"] == 1.0 and "long_prompt_p50_ms" in report
    spec = "tests.test_classifier:_async_classifier"
    assert main(["--", str(data), "--classifier", spec, "--fail-under", "0.9"]) == 0
    assert "~4k-token prompt" not in capsys.readouterr().out  # async: not timed
    assert (
        main(
            [
                str(data),
                "--classifier",
                "tests.test_classifier:_abstaining_classifier",
                "--fail-under",
                "0.9",
            ]
        )
        == 1
    )
    capsys.readouterr()
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert main([str(data), "--classifier", "no_such_module:fn"]) == 2


def test_load_classifier_accepts_both_spellings() -> None:
    assert load_classifier("omni_proxy.classifier:heuristic_classify") is heuristic_classify
    assert load_classifier("omni_proxy.classifier.heuristic_classify") is heuristic_classify
    with pytest.raises(ValueError):
        load_classifier("nomodule")


# --------------------------------------------------------------------------- issue 14


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Resuelve el sistema: 2x + y = 7, x - y = 2.", "reasoning"),
        ("Calculez le périmètre d'un carré de côté 7 cm.", "reasoning"),
        ("Berechne 17 mal 23.", "reasoning"),
        ("Resolva a equação 5x - 3 = 12.", "reasoning"),
        ("Реши уравнение 3x + 1 = 10.", "reasoning"),
        ("计算 48 除以 6 等于多少？", "reasoning"),
        ("次の方程式を解いて、xを求めよ：2x + 3 = 11", "reasoning"),
        ("¿Cómo declaro una variable global en una función de JavaScript?", "coding"),
        ("Как объявить массив в C?", "coding"),
        ("Pythonで辞書のキーを逆順に並べる方法は？", "coding"),
        ("Перескажи коротко статью о новом законе о выборах.", "summarization"),
        ("Faça um resumo da reunião de ontem em três linhas.", "summarization"),
        ("Traduci in francese: il treno è in ritardo.", "translation"),
    ],
)
def test_cues_in_other_languages(prompt: str, expected: str) -> None:
    assert task(user(prompt)) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # the pasted material is full of maths words; the ask is a summary
        (
            "The integral of a probability density is one; the derivative of the cumulative "
            "distribution gives the density back, and we prove the theorem by induction.\n\n"
            "Sum this up in one plain sentence for my grandmother.",
            "summarization",
        ),
        # the material is about translation; the ask is a word problem
        (
            "From the agency's leaflet: we translate and summarize contracts in 30 languages "
            "and localize software for European markets.\n\n"
            "They bill 0.08 per word. How much is a 4,000-word contract?",
            "reasoning",
        ),
        # the material is maths; the ask is an opinion
        (
            "My poem: the equation of my heart has no solution, the probability of you is "
            "one, and every theorem of the night is proven at dawn.\n\n"
            "Do you think it works as a poem?",
            "chat",
        ),
    ],
)
def test_the_ask_outweighs_the_vocabulary_of_pasted_material(prompt: str, expected: str) -> None:
    assert task(user(prompt)) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Jo is 4 years younger than Max, who is 30. What is the sum of their ages?", "reasoning"),
        ("Each of the three friends has a different hat. Who owns which one?", "reasoning"),
        ("If all glorps are snibs and some snibs are blue, must some glorps be blue?", "reasoning"),
        (
            "A tap fills a bath in 12 minutes and the plug drains it in 20. When is it full?",
            "reasoning",
        ),
        ("fetchUser returns undefined inside my_handler on the first call", "coding"),
        ("running it with --verbose prints nothing, then main.py exits", "coding"),
        ("Give me the bottom line of this: rates stay flat until spring.", "summarization"),
        ("What's the Italian word for 'umbrella'?", "translation"),
    ],
)
def test_paraphrases_without_cue_words(prompt: str, expected: str) -> None:
    assert task(user(prompt)) == expected


def test_the_confidence_is_a_probability_that_falls_with_the_lead() -> None:
    from omni_proxy.classifier import decision_feature

    clear = heuristic_classify(user("Translate 'good night' into Spanish, please."))
    weak = heuristic_classify(user("How many squares are on a chessboard?"))
    assert clear.task_type == "translation" and weak.task_type == "chat"
    assert 0.5 < weak.confidence < clear.confidence < 1.0
    assert decision_feature(user("hi")) is not None
    assert decision_feature(user("hi", tools=TOOLS)) is None  # structure decides


def test_the_shipped_calibration_is_what_the_script_fits_on_training_rows() -> None:
    import importlib.util

    from omni_proxy.classifier import CALIBRATION

    spec = importlib.util.spec_from_file_location("fit", DATA_DIR / "fit_confidence.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main_rows = load_rows(DATA_DIR / "task_eval.jsonl")
    train = [r for r in main_rows if "split" not in r] + load_rows(DATA_DIR / "task_dev.jsonl")
    data = module.points(train)
    assert {kind: module.fit(pts) for kind, pts in data.items()} == CALIBRATION


def test_the_fresh_batch_shares_no_prompt_with_the_rules_data() -> None:
    def texts(path: Path) -> set[str]:
        return {json.dumps(r["body"], sort_keys=True) for r in load_rows(path)}

    rules_data = texts(DATA_DIR / "task_dev.jsonl") | texts(DATA_DIR / "task_eval.jsonl")
    fresh = texts(DATA_DIR / "task_eval_fresh.jsonl")
    heldout = texts(DATA_DIR / "task_eval_heldout.jsonl")
    assert len(fresh) >= 80 and len(heldout) >= 140
    assert not fresh & rules_data
    assert not heldout & rules_data


def test_the_heldout_file_is_what_its_generator_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("heldout", DATA_DIR / "make_task_heldout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = [json.loads(line) for line in (DATA_DIR / "task_eval_heldout.jsonl").open()]
    assert written == module.rows()
    assert {r["label"] for r in written} <= set(TASK_TYPES)
    assert all(r["split"].startswith("heldout3-") for r in written)


# --- issue 14, session 5: cue-less asks (prompts from the dev batches, not the held-out one)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my form submits twice when people double click", "coding"),
        ("why does my app take 10 seconds to open the first time", "coding"),
        ("the report query got really slow once the table passed a million rows", "coding"),
        ("my website gets almost no traffic from Google, any marketing ideas?", "chat"),
        ("my program at university is too hard, should I switch majors?", "chat"),
        (
            "I have 3 job offers, one pays 10% more but has a longer commute. How do I decide?",
            "chat",
        ),
        ("If every glorp is a snib and no snib is a wux, can a glorp be a wux?", "reasoning"),
        (
            "Anna, Ben and Carl each have a different pet. Anna has no dog. Who has the cat?",
            "reasoning",
        ),
        (
            "Marie a trois fois l'âge de sa fille. Dans 10 ans, le double. Quel âge ont-elles ?",
            "reasoning",
        ),
        ("What's the Spanish for 'bottle opener'?", "translation"),
        ("What do Italians call a pedestrian crossing?", "translation"),
        ("In English please: 'Je voudrais changer ma réservation pour jeudi.'", "translation"),
        ("Give me an overview of the story of Moby Dick in a few sentences.", "summarization"),
    ],
)
def test_asks_without_cue_words(text: str, expected: str) -> None:
    assert task(user(text)) == expected


def test_a_short_question_above_a_short_paste_is_the_ask() -> None:
    paste = (
        "The council reviewed the parking scheme after six months. Permit sales covered 80% of "
        "costs, complaints fell, and the two streets nearest the station still see overflow. "
        "Officers recommend extending the zone by two streets and raising permits by 50 pence."
    )
    assert task(user("What are the essentials of this? I only have a minute.\n\n" + paste)) == (
        "summarization"
    )
    # The numbers of the paste are material, not a word problem.
    assert task(user("Make this sound friendlier? It goes to residents.\n\n" + paste)) == "chat"


def test_the_old_module_re_exports_the_package() -> None:
    import omni_proxy.classifier as old
    import omni_proxy.routing.classify as new

    assert old.heuristic_classify is new.heuristic_classify
    assert old.CALIBRATION is new.CALIBRATION
    assert old.decision_feature is new.decision_feature


def test_classify_modules_stay_small() -> None:
    """One job per module; only the cue data (``cues.py``, pure tables) may run long."""
    root = Path(__file__).parents[1] / "omni_proxy" / "routing" / "classify"
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in root.glob("*.py")}
    assert {"heuristic.py", "score.py", "ask.py", "cues.py"} <= set(sizes)
    assert all(n <= 500 for name, n in sizes.items() if name != "cues.py"), sizes


def test_main_reports_one_split_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "splits.jsonl"
    rows = [
        {"id": "m", "label": "chat", "body": user("Why is the sky blue?")},
        {
            "id": "h",
            "label": "translation",
            "body": user("Translate 'cat' into German."),
            "split": "holdout",
        },
        {"id": "f", "label": "reasoning", "body": user("Why is the sky blue?"), "split": "fresh-x"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert main([str(data), "--split", "main", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 1
    assert main([str(data), "--split", "fresh", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 1 and report["macro_accuracy"] == 0.0
    assert main([str(data), "--split", "nothing"]) == 2
