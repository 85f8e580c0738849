"""The built-in task classifier: structure first, then language cues, in well under a millisecond.

It runs on every routed request, so it must cost next to nothing. Regex alternations are slow
in CPython (a few hundred microseconds per pattern over a few kilobytes), so the text is split
into lower-case tokens once and the tokens are looked up in a lexicon built at import.
Multi-word cues are matched token by token, cues with gaps ("translate ... into French") are
assembled from token positions, and code is recognised from cheap ``str.count`` checks. Only
a bounded part of each message is read (its first and last short paragraphs, where the ask
sits, and a sample of what lies between), so a megabyte prompt costs what a page costs.

The rules are the ones ``tests/data/README.md`` labels the evaluation set with: structure
decides first (a tool result last -> agent_step, an image in the latest user turn -> image,
tools on offer -> agent_step); then cues in the latest user message, the system prompt
counting half, and the previous turn when the message is a short follow-up.

The ask outweighs pasted material: a short first or last paragraph is read as the ask and
the rest counts lightly and never up to a decision on its own. Prompts without cue words
still give shapes to go by (several numbers and a question, a logic puzzle's phrasing,
camelCase or snake_case identifiers). The confidence is a probability, calibrated on
training rows, so a slower classifier can be asked only when it is low.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .types import Classification

__all__ = ["CALIBRATION", "decision_feature", "heuristic_classify"]

CLASSIFIER_NAME = "heuristic"

#: Characters kept from the start and the end of a message before anything else is done.
HEAD_CHARS = 3000
TAIL_CHARS = 1500
#: A message longer than this is read as "ask + pasted text": its first and last short
#: paragraphs (up to ``ASK_CHARS``) count fully, a sample of the rest at ``BODY_WEIGHT``.
LONG_TEXT = 800
ASK_CHARS = 300
EDGE_CHARS = 600
BODY_CHARS = 900
BODY_WEIGHT = 0.35
SYSTEM_WEIGHT = 0.5
SYSTEM_CHARS = 1500
PREV_USER_WEIGHT = 0.6
PREV_ASSISTANT_WEIGHT = 0.3
FOLLOW_UP_CHARS = 300
#: Content parts and messages looked at, from each end.
MAX_PARTS = 32
MAX_MESSAGES = 64
#: The score a non-chat type needs before it beats the chat default.
THRESHOLD = 1.5
#: A medium message (up to ``LONG_TEXT``) split into paragraphs reads its short first or last
#: paragraph as the ask and the rest as material at this weight: pasted vocabulary must not
#: outvote the ask ("<an abstract full of maths words> Give me the gist of this").
MATERIAL_WEIGHT = 0.35
#: The most the material of a medium message adds to one task: less than ``THRESHOLD``.
MATERIAL_CAP = 1.0
MEDIUM_TEXT = 100
#: Several numbers and a question in fewer characters than this read as a word problem.
SHORT_PROBLEM = 400

_Cue = tuple[str, float, str]  # (task type, weight, signal name)
_CueFn = Callable[[str, float, str], None]

# ---------------------------------------------------------------------------------------
# Token flags, for cues assembled from several tokens.
# ---------------------------------------------------------------------------------------
LANG = 1 << 0  # a natural-language name: french, alemán, japanisch
INTO = 1 << 1  # into / to / al / ins
INTO_WEAK = 1 << 2  # in / en / auf
LANG_ADJ = 1 << 3  # formal, simplified, brazilian: may sit between "into" and the language
TR_VERB = 1 << 4  # translate and its cousins
RENDER_VERB = 1 << 5  # say / put / write / need ... + "this" ... + in French
PRONOUN = 1 << 6  # this / it / that / the following
LANG_NOUN = 1 << 7  # version / translation / word: "the Spanish word for"
SAYLIKE = 1 << 8  # say / says / mean / means
IMG_VERB = 1 << 9  # generate / create / make / design ...
IMG_NOUN = 1 << 10  # image / picture / logo / poster ...
DRAW_VERB = 1 << 11  # draw / paint / sketch: "draw me a ..."
DET = 1 << 12  # a / an / un / ein / some / two
DESC = 1 << 13  # image-prompt descriptors: photorealistic, 35mm, golden hour
NUMWORD = 1 << 14  # number words
ADVICE = 1 << 15  # how do i / how to / tips for: asking how to do it oneself
SUMMAR = 1 << 16  # summarize and its cousins
QMATH = 1 << 17  # how many / how much / cuánto / wie viele
COMPARATIVE = 1 << 18  # older / taller ... (+ "than")
THAN = 1 << 19
UNIT = 1 << 20  # sentences / lines / bullets / words: "in three sentences"
FOLLOW = 1 << 21  # ok / now / again / same: a follow-up to the previous turn
ALL = 1 << 22  # "all X are Y"
ARE = 1 << 23
ME = 1 << 24  # me / us after draw
QWHAT = 1 << 25  # what is the / what was the: a word problem's question, with numbers
MEAN_Q = 1 << 26  # que veut dire / was heißt: with a quoted phrase, asks for its meaning
THREAD = 1 << 27  # thread(s), with PROCESS: a concurrency question
PROCESS = 1 << 28
WANT = 1 << 29  # need / want: "I need an illustration for ..."
PROG_LANG = 1 << 30  # python / java / c: "in C", "en Rust"
WITH = 1 << 31  # in / with / using / en: before a programming language
KEYADJ = 1 << 32  # main / key / most important / wichtigsten: + points
POINTS = 1 << 33  # points / punkte / ideas
FASSE = 1 << 34  # German "fasse ... zusammen": a separable "summarize"
WHAT = 1 << 35  # "what is this story about"

_LANGS = (
    "english spanish french german italian portuguese dutch swedish norwegian danish finnish "
    "polish czech slovak russian ukrainian greek turkish arabic hebrew hindi bengali urdu "
    "punjabi chinese mandarin cantonese japanese korean thai vietnamese indonesian malay "
    "tagalog filipino swahili latin catalan romanian hungarian persian farsi croatian serbian "
    "bulgarian icelandic irish welsh "
    "inglés ingles español espanol francés frances alemán aleman italiano portugués portugues "
    "chino japonés japones coreano ruso árabe arabe neerlandés holandés "
    "anglais espagnol allemand italien portugais chinois japonais coréen russe français "
    "néerlandais "
    "englisch deutsch französisch spanisch italienisch portugiesisch chinesisch japanisch "
    "russisch koreanisch niederländisch englische deutsche französische spanische "
    "italienische japanische chinesische "
    "inglese spagnolo francese tedesco cinese giapponese "
    "inglês espanhol francês alemão "
    "английский английского русский русского немецкий французский испанский"
)

# ---------------------------------------------------------------------------------------
# The lexicon: (task, weight, words). Words are space separated; in the phrase tables,
# phrases are separated by "|". Expanded once at import.
# ---------------------------------------------------------------------------------------

_WORD_CUES: list[tuple[str, float, str]] = [
    # coding: programming vocabulary, strongest first
    (
        "coding",
        1.5,
        "python javascript typescript nodejs reactjs nextjs django flask fastapi golang kotlin "
        "scala haskell sql mysql postgres postgresql sqlite mongodb numpy dataframe dataframes "
        "groupby git github gitlab docker dockerfile kubernetes kubectl k8s terraform ansible "
        "nginx bash zsh powershell vim emacs regex regexp pytest jest unittest asyncio "
        "threading multithreading deadlock segfault rebase graphql cors npm pnpm venv "
        "virtualenv vscode jupyter svg flexbox div docstring docstrings linter eslint monorepo "
        "useeffect setstate traceback stacktrace localhost crontab vlookup xlookup hashmap "
        "mutex semaphore concurrency refactor refactoring debug debugging debugger debuggen "
        "debugge speicherleck latex tsx jsx ipynb html css generics usestate useref usememo "
        "usecallback setinterval settimeout webpack stdout stderr stdin onclick onchange "
        "onsubmit addeventlistener nullpointerexception sigsegv eacces enoent crashloopbackoff "
        "gitignore makefile cmake gradle maven matplotlib pyplot seaborn scipy sklearn "
        "scikit pytorch tensorflow keras huggingface psycopg psycopg2 sqlalchemy pydantic "
        "rabbitmq elasticsearch dynamodb firebase supabase prisma grpc protobuf webassembly "
        "wasm svelte sveltekit nuxt webpack tailwindcss jquery axios lodash expressjs nestjs "
        "laravel symfony springboot dotnet aspnet blazor xamarin reactnative swiftui xcode "
        "godot pygame opengl cuda llvm gcc clang rustc npx pip3 pipenv pylint mypy "
        "eslint jenkins circleci istio cloudformation ec2 vercel netlify heroku systemd "
        "systemctl sudo chmod chown rsync jsonb middleware jdbc odbc",
    ),
    (
        "coding",
        1.2,
        "api apis endpoint endpoints json yaml frontend backend react vue angular php rails "
        "compiler programming recursion callback callbacks cron conda oauth jwt pip "
        "microservice microservices scraper programmation programación programmierung "
        "programmieren pandas py js relational hashing bcrypt encryption aws s3 gcp azure "
        "declare declaration declarar déclarer deklarieren parse parsing parser rekursion "
        "recursión récursion récursivité ricorsione puntero pointeur zeiger массив функция "
        "функцию функции переменная переменную рекурсия компилятор",
    ),
    (
        "coding",
        0.8,
        "function functions variable variables array arrays tuple tuples dict boolean pointer "
        "pointers recursive algorithm algorithms schema code coding programmer developer "
        "developers framework closures async await exception exceptions bug bugs repo "
        "repository commit deploy deployment compile runtime cli sdk orm ssh http ide lint props "
        "syntax null undefined markup java linux ubuntu boilerplate función fonction funktion "
        "código scraping env csv database constant constante konstante schleife bucle boucle "
        "arreglo loop loops iterate iterating iterator iterators variável variabile utf8 "
        "unicode ascii serialization deserialization serialize deserialize "
        "variablen funzione função método méthode methode metodo cicli ciclo цикл цикле код "
        "кода коде скрипт",
    ),
    (
        "coding",
        0.5,
        "method class classes string strings dictionary query queries script scripts object "
        "program dev library package closure crash crashes branch merge pr ci pipeline server "
        "plugin interface component components formula spreadsheet shell rust swift ruby "
        "idiomatic thread threads container containers pod pods install installed build "
        "biblioteca bibliothèque bibliothek libreria librería biblioteka библиотеку "
        "tabelas tablas tabelle tables objeto objet objekt oggetto",
    ),
    # reasoning
    (
        "reasoning",
        2.0,
        "solve prove theorem lemma derivative integrate integral probability factorial "
        "divisible riddle puzzle syllogism knights knaves permutations combinations equation "
        "equations wahrscheinlichkeit probabilidad probabilité probabilità probabilidade "
        "beweise beweisen beweis démontrer démontre prouve prouver demuestra demostrar "
        "dimostra dimostrare résous résoudre resuelve resolver löse lösen ecuación équation "
        "gleichung докажи вероятность реши решите уравнение уравнения résolvez risolvi "
        "resolva equação equazione",
    ),
    # "calculate" as a command in other languages (the English word also names a topic)
    (
        "reasoning",
        1.5,
        "calcula calcule calcola calculez calcolate berechne rechne вычисли вычислите",
    ),
    (
        "reasoning",
        1.0,
        "proof calculate compute estimate simplify median ratio percentage perimeter angle "
        "sequence consecutive integers integer deduce logic logically premise premises mph combien "
        "cuánto cuántos cuántas quanti quante quantos сколько primzahlen primzahl "
        "compounded subtract subtracted multiply multiplied divide "
        "divided remainder squared minus diagonal hypotenuse radius diameter circumference "
        "triangle hexagon pentagon polygon angles conclude inference deduction calcular "
        "calcolare berechnen найдите "
        "площадь периметр rechteck dreieck umfang flächeninhalt triángulo triangolo "
        "triângulo rectángulo rettangolo retângulo périmètre perímetro perimetro aire "
        "área",
    ),
    (
        "reasoning",
        0.75,
        "evaluate average percent prime odds valid invalid therefore speed discount velocidad "
        "vitesse geschwindigkeit moyenne média durchschnitt quanto argument chance chances "
        "reasoning rectangle arrange",
    ),
    ("reasoning", 0.5, "sum exactly expected digits area mean plus weighings heavier"),
    # summarization
    (
        "summarization",
        3.0,
        "summarize summarise summarized summarised summarizing summarising summarization "
        "summarisation tldr gist recap synopsis resumen resumir resúmeme resúmelo resuma resumo "
        "zusammenfassung zusammenfassen kurzfassung riassumi riassunto riassumere sintetiza "
        "résumé résumer résume résumez",
    ),
    (
        "summarization",
        2.5,
        "summary summaries shorten takeaways nutshell kernaussagen sintesi síntesis synthèse "
        "condense condensed суть перескажи перескажите resuma resumir resúmelo riassumilo "
        "síntese synthétise synthétiser",
    ),
    ("summarization", 2.0, "takeaway abridge"),
    ("summarization", 1.0, "blurb"),
    ("summarization", 1.5, "shorter stichpunkten stichpunkte"),
    ("summarization", 1.0, "briefly bullets essentials кратко"),
    # translation
    ("translation", 2.0, "translate translates translated translating translation translations"),
    (
        "translation",
        3.0,
        "translator translators übersetzer traductor traducteur traduttore переводчик",
    ),
    ("translation", 2.0, "localize localise localization localisation übertragen"),
    # image: words that stand on their own
    ("image", 3.0, "нарисуй нарисовать сгенерируй dibújame"),
    ("image", 1.0, "midjourney dall stablediffusion"),
    # chat: editing, opinion and advice asks, which compete with weak cues of other types
    (
        "chat",
        1.5,
        "proofread proofreading grammar rewrite rephrase reword friendlier opinion opinión "
        "overreacting meinung",
    ),
    ("chat", 1.0, "advice recommend continue reply crees consejo"),
]

_PHRASE_CUES: list[tuple[str, float, str]] = [
    (
        "coding",
        1.5,
        "unit test|unit tests|linked list|hash map|big o|time complexity|space complexity|"
        "binary search|data structure|data structures|database schema|dependency injection|"
        "race condition|memory leak|segmentation fault|pull request|excel formula|"
        "chrome extension|type hints|solid principles|event loop|stack trace|syntax error|"
        "inner join|left join|design pattern|design patterns|virtual environment|"
        "ambiente virtual|web scraper|list comprehension|node js|next js|if err|shell script|"
        "bash script|python script|foreign key|primary key|abstract class|abstrakte klasse|"
        "abstrakten klasse|classe abstraite|clase abstracta|deep copy|shallow copy|"
        "infinite loop|for loop|while loop|bucle for|boucle for|last commit|page load|"
        "let and const|var and let|const and let|"
        "permission denied|virtual env|environnement virtuel|entorno virtual|"
        "ambiente virtuale|virtuelle umgebung|command line|the terminal|my terminal|"
        "status code|exit code|exited with|on first render|the console|pull the image|"
        "google sheets formula|sheets formula|excel macro|vba macro|android app|ios app|"
        "mobile app|web page|web server|command prompt|operating system|source code|"
        "machine learning model|neural network|data pipeline|rest api|json file|csv file|"
        "text file|config file|environment variable|environment variables|package manager|"
        "version control|code review|pull requests|merge conflict|git repo|stack trace|"
        "in linux|on linux|in bash|in powershell|in excel|in google sheets",
    ),
    ("coding", 1.0, "stack overflow|error message|error handling|handle errors|web app"),
    (
        "reasoning",
        2.0,
        "how many ways|how many different ways|in how many ways|in quanti modi|"
        "de cuántas maneras|de combien de façons|auf wie viele arten|solve for",
    ),
    (
        "reasoning",
        1.5,
        "expected number|expected value|break even|compound interest|next number|"
        "which weighs more|which is larger|which is bigger|which is greater|which is smaller|"
        "which is heavier|tell the truth|always lie|always lies|think step by step|"
        "prime number|prime numbers|inductive reasoning|deductive reasoning|fallacy|"
        "siguiente número|nombre suivant|nächste zahl|prossimo numero|próximo número|"
        "wie viele möglichkeiten|cuántas formas|cuántas maneras|combien de manières|"
        "combien de façons|quante combinazioni",
    ),
    (
        "reasoning",
        1.0,
        "step by step|show the steps|show your work|show your working|walk me through|"
        "think carefully|reason carefully|let s reason|work out|km h|per hour|miles per hour|"
        "what day was|what day will|what day is it|what day of the week|day after tomorrow|"
        "day before yesterday|double it|triple it|half of it|wie lang ist|wie alt ist|quanto fa|"
        "quanto é|quanto e|qual é o preço|qual é o valor|cuál es el valor|à quelle vitesse|"
        "a qué velocidad|each own|each owns|each have|each has|one each|each person",
    ),
    # the shapes of logic puzzles and riddles, which often have no maths word at all
    (
        "reasoning",
        1.5,
        "who owns which|who has which|"
        "who owns what|who has what|which is which|who is who|is that possible|"
        "is that even possible|is it possible to|why or why not|can we say|can we conclude|"
        "does it follow|does that follow|must some|must all|necessarily true|must be true|"
        "tells the truth|never lies|every label|labels are wrong|a balance|largest number of|"
        "smallest number of|least number of|at least how many|at most how many|how long would|"
        "how long will it take|how long does it take|what fraction|what are the odds|"
        "where do they bury|possible to tile",
    ),
    (
        "summarization",
        3.0,
        "boil it down|boil this down|boil down|sum up|sum it up|sum this up|tl dr|"
        "too long didn t read|worum es|de quoi parle|short version|executive brief|"
        "bottom line|cut this down|cut it down|the main point|the gist|in a nutshell|"
        "in one sentence|in a sentence|in two lines|in one line|in three sentences|"
        "in two sentences|in a few words|what actually matters|faça um resumo|haz un resumen|"
        "fais un résumé|fais une synthèse|fammi un riassunto|kurz zusammen|"
        "what does this email say|what does this memo say|what does this say|"
        "executive briefs|write an abstract|an abstract for|resume este|resume esta|"
        "resume el|resume la|resume en|краткое содержание|cliff notes|cliffs notes|cliffnotes|"
        "sparknotes",
    ),
    (
        "summarization",
        2.5,
        "key points|main points|key findings|puntos clave|points clés|meeting minutes|"
        "short minutes|main ideas|main idea|main takeaway|the main events|highlights of|"
        "highlights from",
    ),
    (
        "summarization",
        2.0,
        "action items|bullet points|bullet point|main arguments|what happened in",
    ),
    (
        "summarization",
        1.5,
        "what s it about|what is it about|what s this about|what is this about|"
        "what does it say|what happens in|don t have time to read|en gros|in short|"
        "the decisions|pull out|main argument",
    ),
    (
        "translation",
        3.0,
        "how do you say|how would you say|how do i say|how would i say|how to say|"
        "how can i say|how should i say|how would you translate|how do you translate|"
        "cómo se dice|como se dice|como se diz|comment dit on|comment on dit|comment dire|"
        "wie sagt man|come si dice|como eu digo|como digo|как сказать|как будет|"
        "how would someone say|how does one say|how do they say|what s the word for",
    ),
    ("translation", 1.5, "right way to say|correct way to say|proper way to say"),
    (
        "translation",
        1.0,
        "que veut dire|qué significa|que significa|was heißt|was bedeutet|что значит|"
        "cosa significa",
    ),
    ("image", 1.0, "ai art|image prompt"),
    (
        "chat",
        1.5,
        "what do you think|do you think|what would you do|make it sound|make this sound|"
        "sound more|was meinst du|tu penses|in my position",
    ),
    ("chat", 0.75, "can i|should i|am i"),
    # cancellations: "dress code" is not code, "draw up a plan" is not a drawing
    (
        "coding",
        -0.8,
        "dress code|zip code|postal code|code word|area code|promo code|discount code|"
        "morse code|bar code|qr code|code of conduct|da vinci code",
    ),
    ("coding", -2.0, "ball python|pet python|python snake|royal python|burmese python"),
    ("image", -4.0, "draw up|draw a conclusion|draw conclusions|draw the line|draw attention"),
    (
        "summarization",
        -2.5,
        "cv summary|resume summary|profile summary|on a resume|on my resume",
    ),
]

_FLAG_WORDS: list[tuple[int, str]] = [
    (LANG, _LANGS),
    (
        LANG_ADJ,
        "plain formal informal simplified traditional brazilian european mexican latin "
        "american british us natural idiomatic proper correct good fluent modern polite casual "
        "standard colloquial business",
    ),
    (INTO, "into to al ins para"),
    (INTO_WEAK, "in en auf em"),
    (
        PRONOUN,
        "this it that these those following my our his her their the esto este esta eso ceci "
        "cela das dies",
    ),
    (
        RENDER_VERB,
        "say put write render need want have get rewrite necesito quiero pon ponlo escribe "
        "escríbelo dilo mets écris schreib schreibe",
    ),
    (LANG_NOUN, "version translation equivalent word words term subtitles"),
    (SAYLIKE, "say says said mean means called"),
    (TR_VERB, "translate translates translated translating translation translations"),
    (
        SUMMAR,
        "summarize summarise summarized summarised summarizing summarising summary summaries",
    ),
    (
        IMG_VERB,
        "generate create make draw paint sketch render design produce illustrate give show "
        "imagine genera generar crea crear hazme haz dibuja dibujar pinta génère générer "
        "genere crée créer fais dessine dessiner erstelle erstellen generiere erzeuge zeichne "
        "zeichnen male mach disegna gere crie gera cria desenhe desenha создай",
    ),
    (
        IMG_NOUN,
        "image images picture pictures pic pics photo photos illustration illustrations drawing "
        "painting paintings logo logos poster posters wallpaper icon icons banner artwork "
        "portrait comic cartoon watercolor watercolour sticker avatar mockup rendering stickers "
        "banners wallpapers avatars drawings cartoons comics portraits artworks mockups "
        "imagen imágenes dibujo ilustración foto póster cartel dessin affiche bild bilder "
        "zeichnung immagine disegno imagem desenho изображение картинку картинка рисунок",
    ),
    (
        DRAW_VERB,
        "draw paint sketch doodle render illustrate dibuja pinta dessine zeichne disegna "
        "desenhe desenha",
    ),
    (DET, "a an some my two three four five un una une ein eine einen um uma uno one"),
    (ME, "me us moi mir"),
    (
        DESC,
        "photorealistic hyperrealistic 35mm 50mm 85mm bokeh isometric 8k 4k cinematic "
        "watercolor watercolour cyberpunk anime",
    ),
    (
        NUMWORD,
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
        "eighty ninety hundred thousand million half twice double triple thrice dozen "
        "dos tres cuatro cinco seis siete ocho nueve diez cien mitad doble "
        "deux trois quatre cinq sept huit neuf dix cent moitié "
        "zwei drei vier fünf sechs sieben acht neun zehn hundert hälfte doppelt "
        "due tre quattro cinque sette otto nove dieci três",
    ),
    (QMATH, "cuánto cuántos cuántas combien quanti quante quantos сколько"),
    (
        COMPARATIVE,
        "older younger taller shorter faster slower heavier lighter richer bigger smaller",
    ),
    (THAN, "than"),
    (
        UNIT,
        "sentence sentences line lines bullet bullets words paragraph paragraphs points frases "
        "phrase phrases sätzen sätze satz lignes ligne righe frasi líneas linhas",
    ),
    (
        FOLLOW,
        "ok okay and now also great thanks thank cool perfect nice hmm hm wait but so then same "
        "again yes no right y ahora también et maintenant aussi und jetzt auch",
    ),
    (ALL, "all"),
    (ARE, "are"),
    (THREAD, "thread threads"),
    (PROCESS, "process processes processus prozess prozesse processo processi"),
    (WANT, "need want like necesito quiero brauche voudrais"),
    (
        PROG_LANG,
        "python java rust go golang ruby swift kotlin scala javascript typescript php perl "
        "haskell c cpp elixir dart lua node deno",
    ),
    (WITH, "in with using en con mit avec em в на 用"),
    (
        KEYADJ,
        "key main important essential principal major central wichtigsten wichtigste "
        "zentralen principales principaux essentiels essentielles clés clave chiave "
        "importanti importantes principais",
    ),
    (POINTS, "points punkte puntos punti pontos ideas ideen idées idee aspects aspekte"),
    (FASSE, "fasse fass fasst fassen"),
    (WHAT, "what"),
]

_FLAG_PHRASES: list[tuple[int, str]] = [
    (
        ADVICE,
        "how do i|how to|how can i|how should i|how would i|good way to|best way to|tips for|"
        "tips on|learn to|learning to|teach me to|structure the|structure an|structure a|"
        "write a good|writing a",
    ),
    (
        QMATH,
        "how many|how much|how long|how old|how far|how thick|how tall|how fast|how often|"
        "wie viele|wie viel|wie lange|at what time|which is longer|which is shorter|"
        "which is faster|which is slower|which is more|which is less|which is cheaper|"
        "which is heavier|which is larger|which is bigger|which is greater|which is smaller",
    ),
    (
        QWHAT,
        "what is the|what was the|what s the|what is its|what will|what are the|when do i|"
        "when does it|when do they|when will|on which day|which day|what time|what do i pay|"
        "what amount|what number|how long|is it back|by how much|how much more|how much less|"
        "when is|when are|when would|how soon",
    ),
    (
        DESC,
        "golden hour|film grain|highly detailed|digital art|concept art|octane render|"
        "unreal engine|depth of field|pixel art|studio lighting|oil painting|"
        "watercolor painting|watercolour painting|in the style of|soft light|pastel tones|"
        "cinematic lighting|8 bit|flat vector|vector style|art deco|anime style|"
        "estilo anime|product shot|trending on artstation|ultra detailed|low poly|"
        "digital painting|warm lighting|soft lighting|dramatic lighting|natural light",
    ),
    (FOLLOW, "what about|how about|this one|that one|the same|same thing|one more"),
    (
        MEAN_Q,
        "que veut dire|qué significa|que significa|was heißt|was bedeutet|что значит|"
        "cosa significa|o que significa",
    ),
]

# Stems, for languages that inflect the key verbs: (task, weight, stems).
_STEM_CUES: list[tuple[str, float, str]] = [
    (
        "translation",
        2.0,
        "übersetz ubersetz traduc tradui traduz tradução traduzione перевед перевод",
    ),
    ("summarization", 3.0, "zusammenfass riassum synops recapitul кратк перескаж"),
    ("coding", 1.5, "debugg refactor"),
    ("reasoning", 1.5, "demuestr dimostr démontr probabil berechn вычисл"),
]
_STEM_FLAGS: list[tuple[int, str]] = [
    (TR_VERB, "übersetz ubersetz traduc tradui traduz tradução traduzione перевед"),
    (SUMMAR, "zusammenfass riassum synops"),
]

# CJK and Hangul have no spaces between words: plain substring checks, when present.
_CJK_CUES: list[tuple[str, float, str, str]] = [
    (
        "translation",
        3.0,
        "translate_cjk",
        "翻译 翻成 译成 译为 怎么说 訳して 翻訳 英訳 和訳 に訳 どういう意味 何と言 번역 영어로 "
        "한국어로 일본어로",
    ),
    (
        "translation",
        1.5,
        "lang_cjk",
        "用英语 用英文 用中文 用日语 用法语 用德语 用韩语 英語で 日本語で",
    ),
    ("summarization", 3.0, "summarize_cjk", "总结 概括 摘要 归纳 简述 要約 まとめ 概要 요약"),
    ("summarization", 2.0, "keypoints_cjk", "要点"),
    ("reasoning", 2.0, "math_cjk", "证明 概率 証明 確率 확률 方程 求め 求解 解方程 计算 計算"),
    (
        "reasoning",
        1.0,
        "quantity_cjk",
        "多少 多长时间 多久 几个 いくつ 何個 何人 何時間 何匹 何本 何歳 何日 面积 面積 "
        "周长 等于 余り 最小の 最大の 몇",
    ),
    (
        "coding",
        1.5,
        "code_cjk",
        "函数 代码 编程 算法 报错 コード 関数 プログラム バグ 코드 함수 프로그래밍",
    ),
    (
        "coding",
        1.0,
        "code_term_cjk",
        "字符串 数组 变量 程序 对象 拷贝 读取 去重 列表 字典 エラー 変数 配列 オブジェクト リスト "
        "逆順 文字列 ライブラリ メソッド 例外",
    ),
    (
        "image",
        3.0,
        "draw_cjk",
        "画一 画个 画张 画幅 画只 画出 生成一张 生成图 描いて 그려",
    ),
    ("image", 1.0, "image_noun_cjk", "图片 图像 插画 画像 イラスト 이미지"),
]
_CJK_GEN_VERBS = ("作って", "作成", "生成", "描", "做一", "制作", "画", "만들", "생성", "그려")
_CJK_NUMERALS = "二三四五六七八九十百千万两半"
_CJK_QMATH = (
    "いくら",
    "何匹",
    "何本",
    "何歳",
    "几岁",
    "几只",
    "还剩",
    "是多少",
    "多少",
    "多长时间",
    "多久",
    "几个",
    "いくつ",
    "何個",
    "何人",
    "何時間",
    "몇",
)

# Numbers in a question that asks for advice or a favour are not a word problem.
_ADVICE_WORDS = frozenset(
    ["should", "shall", "recommend", "recommendation", "tips", "advice", "better", "worth"]
)
_ERROR_SUFFIXES = ("error", "exception")
_NOT_ERRORS = frozenset({"terror", "error", "errors", "exception", "exceptions"})
# An opening quote (not an apostrophe): 'What does "X" mean' asks for a translation.
_OPEN_QUOTE = re.compile(r"(?:^|[\s(:\u2014-])['\"\u2018\u201c\u00ab\u201e\u300c]\S")
# 'What's "on my way" in Portuguese?': a quoted phrase, then the language it should be in.
_QUOTED_IN = re.compile(r"['\"\u2019\u201d\u00bb\u300d]\s*(?:in|into|to|en|auf|em)\s+([^\W\d_]+)")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# Arithmetic between numbers; every branch starts with a digit, which keeps the scan fast.
_MATH_EXPR = re.compile(
    r"\d\s*[\u00d7\u00f7*/^]\s*\(?\d"
    r"|\d\s+[-+\u2212]\s+\d"
    r"|\d+!"
    r"|\d\s*%\s*(?:of|de|von|di|do|da)\s+\d"
)
# An equation: only tried when the text has an "=".
_EQUATION = re.compile(r"[-+\u2212=]\s*\d+\s*=\s*-?\d|[a-z]\s*=\s*-?\d")
_MATH_SYMBOLS = ("\u221a", "\u222b", "\u2211", "\u03c0", "\u2264", "\u2265", "\u00b2")
# Substrings counted by _code_evidence: operators, calls, keywords, regex syntax.
_EQ_OPS = ("==", "!=", "=>", "+=")
_OPS = ("&&", "||", "::", "->")
_CALLS = ("print(", "function(", "() ", "();", "()\n", "():", ") {", "self.")
_KEYWORDS = (
    "def ",
    "return ",
    "import ",
    "this.",
    "console.",
    "#include",
    "</",
    "/>",
    "SELECT ",
    " FROM ",
    "const ",
    "var ",
    "JOIN ",
    "WHERE ",
    "GROUP BY",
    "ORDER BY",
    "INSERT INTO",
)
# File names with a source extension, for _code_tokens.
_SOURCE_EXTS = (
    ".py",
    ".js",
    ".ts",
    ".tsx",
    ".jsx",
    ".json",
    ".yaml",
    ".yml",
    ".toml",
    ".sh",
    ".java",
    ".cpp",
    ".rs",
    ".rb",
    ".php",
    ".sql",
    ".ipynb",
)
_TOKEN_EDGES = "`'\"()[]{}<>,;:!?*"
#: Identifiers are looked for in this many first characters of a text.
CODE_TOKEN_CHARS = 1500
_REGEX_BITS = ("(?", "\\d", "\\w", "[a-z", ".*")
_MATH_NOTATION = ("f(x)", "sin(", "cos(", "tan(", "ln(", "log(", "sqrt(", "^2", "^3", "lim ")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Latin and Cyrillic runs apart from CJK runs: "如何在JavaScript中" holds a "javascript".
_WORD_RE = re.compile(
    r"[a-z0-9\u00c0-\u024f\u0400-\u04ff]+|[^\W_a-z0-9\u00c0-\u024f\u0400-\u04ff]+"
)
_ASCII_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def _tokenize(low: str) -> list[str]:
    """Lower-case words and numbers. ``translate`` is fast only on ASCII text."""
    if low.isascii():
        return low.translate(_ASCII_PUNCT).split()
    return _WORD_RE.findall(low)


class _Entry:
    """What the lexicon knows about one token: its cues, flags and the phrases it starts."""

    __slots__ = ("cues", "flags", "phrases")

    def __init__(self) -> None:
        self.cues: tuple[_Cue, ...] = ()
        self.flags = 0
        self.phrases: tuple[tuple[tuple[str, ...], tuple[_Cue, ...], int], ...] = ()


_Stem = tuple[str, tuple[_Cue, ...], int]


def _build_lexicon() -> tuple[dict[str, _Entry], dict[str, tuple[_Stem, ...]]]:
    """Expand the tables into token and stem dictionaries, typo variants included."""
    lex: dict[str, _Entry] = {}

    def entry(word: str) -> _Entry:
        e = lex.get(word)
        if e is None:
            e = lex[word] = _Entry()
        return e

    def add_phrase(words: tuple[str, ...], cues: tuple[_Cue, ...], flags: int) -> None:
        e = entry(words[0])
        e.phrases = (*e.phrases, (words[1:], cues, flags))

    for task, weight, words in _WORD_CUES:
        for w in words.split():
            e = entry(w)
            e.cues = (*e.cues, (task, weight, f"kw:{w}"))
    for task, weight, phrases in _PHRASE_CUES:
        for p in phrases.split("|"):
            toks = tuple(_tokenize(p))
            cue = (task, weight, ("not:" if weight < 0 else "kw:") + "_".join(toks))
            if len(toks) == 1:
                e = entry(toks[0])
                e.cues = (*e.cues, cue)
            else:
                add_phrase(toks, (cue,), 0)
    for flag, words in _FLAG_WORDS:
        for w in words.split():
            entry(w).flags |= flag
    for flag, phrases in _FLAG_PHRASES:
        for p in phrases.split("|"):
            add_phrase(tuple(_tokenize(p)), (), flag)

    # Fast typists swap two letters: "sumamrize", "Japaense". Longer cue words also answer
    # to their adjacent transpositions, unless that spelling is a lexicon word itself.
    for word, e in list(lex.items()):
        if len(word) < 6 or not word.isalpha() or not (e.cues or e.flags):
            continue
        for k in range(1, len(word) - 2):
            typo = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
            if typo not in lex:
                variant = lex[typo] = _Entry()
                variant.cues, variant.flags = e.cues, e.flags

    stems: dict[str, list[_Stem]] = {}
    flag_of: dict[str, int] = {}
    for flag, words in _STEM_FLAGS:
        for s in words.split():
            flag_of[s] = flag_of.get(s, 0) | flag
    for task, weight, words in _STEM_CUES:
        for s in words.split():
            stems.setdefault(s[:5], []).append(
                (s, ((task, weight, f"kw:{s}*"),), flag_of.pop(s, 0))
            )
    for s, flag in flag_of.items():
        stems.setdefault(s[:5], []).append((s, (), flag))
    return lex, {k: tuple(v) for k, v in stems.items()}


_LEX, _STEMS = _build_lexicon()
_CJK_TABLE: tuple[tuple[str, float, str, tuple[str, ...]], ...] = tuple(
    (task, weight, f"kw:{name}", tuple(words.split())) for task, weight, name, words in _CJK_CUES
)
_TASKS = ("chat", "coding", "reasoning", "summarization", "translation", "image")


class _Scores:
    """Scores per task and the signals behind them, for one classification."""

    __slots__ = ("score", "signals")

    def __init__(self) -> None:
        self.score: dict[str, float] = dict.fromkeys(_TASKS, 0.0)
        self.signals: dict[str, list[str]] = {}

    def add(self, task: str, weight: float, signal: str) -> None:
        self.score[task] += weight
        if weight > 0:
            self.signals.setdefault(task, []).append(signal)

    def best(self) -> tuple[str, float, float]:
        """The best non-chat task, its score and the runner-up's score."""
        task, best, second = "chat", float("-inf"), float("-inf")
        for t, s in self.score.items():
            if t == "chat":
                continue
            if s > best:
                task, best, second = t, s, best
            elif s > second:
                second = s
        return task, best, second


# ---------------------------------------------------------------------------------------
# Reading the request
# ---------------------------------------------------------------------------------------


def _window(text: str) -> str:
    """The head and tail of a long text: the part worth reading, at a bounded cost."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n\n" + text[-TAIL_CHARS:]


def _content(content: Any) -> tuple[str, bool]:
    """The text of a message's content (string or parts) and whether it holds an image."""
    if isinstance(content, str):
        return _window(content), False
    if not isinstance(content, list):
        return "", False
    parts: Sequence[Any] = content
    if len(parts) > 2 * MAX_PARTS:
        parts = [*parts[:MAX_PARTS], *parts[-MAX_PARTS:]]
    texts: list[str] = []
    size = 0
    image = False
    for part in parts:
        if isinstance(part, str):
            text: Any = part
        elif isinstance(part, Mapping):
            if part.get("type") in ("image_url", "input_image", "image"):
                image = True
                continue
            text = part.get("text")
        else:
            continue
        if isinstance(text, str) and text and size < HEAD_CHARS + TAIL_CHARS:
            texts.append(_window(text))
            size += len(texts[-1])
    return _window("\n\n".join(texts)), image


def _role(message: Any) -> str:
    role = message.get("role") if isinstance(message, Mapping) else None
    return role if isinstance(role, str) else ""


def _message_text(message: Any) -> tuple[str, bool]:
    return _content(message.get("content")) if isinstance(message, Mapping) else ("", False)


def _non_empty_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


# ---------------------------------------------------------------------------------------
# Scoring text
# ---------------------------------------------------------------------------------------


def _regions(text: str) -> list[tuple[str, float]]:
    """A long message as (ask, weight 1) and (sample of the pasted body, ``BODY_WEIGHT``).

    The ask is the first or last paragraph when it is short; a paste without paragraphs
    has its first and last couple of hundred characters read as the ask.
    """
    n = len(text)
    if n <= LONG_TEXT:
        return _medium_regions(text) if n > MEDIUM_TEXT and "\n\n" in text else [(text, 1.0)]
    head = text.find("\n\n", 0, EDGE_CHARS)
    if head < 0:
        head = text.find(":\n", 0, ASK_CHARS)
        head = head + 1 if head >= 0 else -1
    if head > ASK_CHARS:
        head = -1
    tail = text.rfind("\n\n", n - EDGE_CHARS)
    if tail < 0 or n - tail > ASK_CHARS or tail <= head:
        tail = -1
    if head < 0 and tail < 0:
        head, tail = 200, n - 200
    regions: list[tuple[str, float]] = []
    start, end = 0, n
    if head > 0:
        regions.append((text[:head], 1.0))
        start = head
    if tail > 0:
        regions.append((text[tail:], 1.0))
        end = tail
    body = text[start:end]
    if len(body) > BODY_CHARS:
        third = BODY_CHARS // 3
        body = body[: 2 * third] + "\n" + body[-third:]
    regions.append((body, BODY_WEIGHT))
    return regions


def _medium_regions(text: str) -> list[tuple[str, float]]:
    """A short ask before or after a pasted paragraph: the ask at 1, the paste lighter.

    The ask is the last paragraph when it is short (a question or an instruction after the
    material), else the first one when it is short and the rest is longer. Fenced code is
    never the ask.
    """
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return [(text, 1.0)]
    first, last = paragraphs[0], paragraphs[-1]
    asks: list[str] = []
    if len(last) <= ASK_CHARS and "```" not in last:
        asks.append(last)
    if (
        len(first) <= ASK_CHARS
        and "```" not in first
        and (not asks or len(paragraphs) > 2 or first.rstrip().endswith((":", "?")))
    ):
        asks.insert(0, first)
    if not asks:
        return [(text, 1.0)]
    material = [p for p in paragraphs if p not in asks]
    if not material or sum(map(len, material)) < sum(map(len, asks)):
        return [(text, 1.0)]
    return [*((a, 1.0) for a in asks), ("\n\n".join(material), MATERIAL_WEIGHT)]


def _score_region(text: str, weight: float, acc: _Scores, prefix: str, *, ask: bool) -> None:
    """Add the lexical cues of one piece of text, scaled by ``weight``."""
    low = text.lower()
    tokens = _tokenize(low)
    seen: set[str] = set()
    marks: dict[int, int] = {}

    def cue(task: str, w: float, signal: str) -> None:
        if signal not in seen:
            seen.add(signal)
            acc.add(task, w * weight, prefix + signal)

    get = _LEX.get
    for i, tok in enumerate(tokens):
        e = get(tok)
        if e is None:
            if len(tok) > 5:
                stems = _STEMS.get(tok[:5])
                if stems is not None:
                    for stem, cues, flags in stems:
                        if tok.startswith(stem):
                            for task, w, signal in cues:
                                cue(task, w, signal)
                            if flags:
                                marks[i] = marks.get(i, 0) | flags
                elif tok.endswith(_ERROR_SUFFIXES) and tok not in _NOT_ERRORS:
                    cue("coding", 2.5, "error_name")
            continue
        for task, w, signal in e.cues:
            cue(task, w, signal)
        if e.flags:
            marks[i] = e.flags
        for rest, cues, flags in e.phrases:
            if tokens[i + 1 : i + 1 + len(rest)] == list(rest):
                for task, w, signal in cues:
                    cue(task, w, signal)
                if flags:
                    marks[i] = marks.get(i, 0) | flags
    if marks:
        _combine(tokens, marks, cue)
    cjk = not low.isascii() and _CJK.search(low) is not None
    if cjk:
        for task, w, signal, words in _CJK_TABLE:
            for word in words:
                if word in low:
                    cue(task, w, signal)
                    break
        if "kw:image_noun_cjk" in seen and any(v in low for v in _CJK_GEN_VERBS):
            cue("image", 2.5, "gen_image_cjk")
    if ask:
        _score_numbers(text, low, tokens, marks, cue, cjk)
        if (
            _OPEN_QUOTE.search(text)
            and _asks_meaning(tokens, marks)
            and not any(t in ("error", "exception", "warning") for t in tokens)
        ):
            cue("translation", 3.0, "what_does_x_mean")
        if len(text) < 300 and _prompt_shaped(text, tokens, marks):
            cue("image", 1.0, "prompt_shape")
        if "in_lang" in seen or "to_lang" in seen:
            for m in _QUOTED_IN.finditer(low):
                e = _LEX.get(m.group(1))
                if e is not None and e.flags & LANG:
                    cue("translation", 2.5, "quoted_in_lang")
                    break


def _prompt_shaped(text: str, tokens: list[str], marks: dict[int, int]) -> bool:
    """An image-generation prompt: a comma-separated description, no question, no "I/you"."""
    if "?" in text or text.count(",") < 2:
        return False
    if any(t in ("i", "you", "me", "my", "we", "your", "can", "please") for t in tokens):
        return False
    return any(f & (IMG_NOUN | DESC) for f in marks.values())


def _asks_meaning(tokens: list[str], marks: dict[int, int]) -> bool:
    """'What does "X" mean' / 'que veut dire "X"': the meaning of a quoted phrase."""
    if any(f & MEAN_Q for f in marks.values()):
        return True
    for i, tok in enumerate(tokens[:-1]):
        if tok == "what" and tokens[i + 1] in ("does", "do", "did", "is"):
            return any(t in ("mean", "means", "stand") for t in tokens[i + 2 : i + 14])
    return False


def _combine(tokens: list[str], marks: dict[int, int], cue: _CueFn) -> None:
    """Cues made of several tokens with gaps: translate ... into French, draw me a ..."""
    n = len(tokens)
    get = marks.get

    def lang_at(j: int) -> bool:
        """A language name at j, or after one adjective ("into formal Spanish")."""
        f = get(j, 0)
        return bool(f & LANG) or (bool(f & LANG_ADJ) and bool(get(j + 1, 0) & LANG))

    def to_lang_within(i: int, span: int) -> bool:
        return any(get(j, 0) & (INTO | INTO_WEAK) and lang_at(j + 1) for j in range(i, i + span))

    comparatives = all_are = 0
    threads = processes = False
    for i, f in sorted(marks.items()):
        if f & (INTO | INTO_WEAK) and lang_at(i + 1):
            if f & INTO:
                cue("translation", 1.5, "to_lang")
            else:
                cue("translation", 0.75, "in_lang")
        if f & TR_VERB:
            nxt = tokens[i + 1] if i + 1 < n else ""
            if nxt in ("into", "to") and not (lang_at(i + 2) or get(i + 2, 0) & PRONOUN):
                cue("translation", -4.0, "not:translate_metaphor")
            elif to_lang_within(i + 1, 13):
                cue("translation", 2.0, "translate_to_lang")
            elif any(get(j, 0) & LANG for j in range(i + 1, i + 4)):
                cue("translation", 1.0, "translate_lang")
        if f & LANG:
            if get(i + 1, 0) & LANG_NOUN:
                cue("translation", 3.0, "lang_version")
            if get(i + 1, 0) & INTO and lang_at(i + 2):
                cue("translation", 3.0, "lang_pair")
        if f & RENDER_VERB and get(i + 1, 0) & PRONOUN and to_lang_within(i + 2, 7):
            cue("translation", 3.0, "render_in_lang")
        if f & SAYLIKE and get(i + 1, 0) & (INTO | INTO_WEAK) and lang_at(i + 2):
            cue("translation", 2.0, "say_in_lang")
        if (
            f & IMG_VERB
            and any(get(j, 0) & (IMG_NOUN | DESC) for j in range(i + 1, i + 9))
            and not _advice_before(marks, i)
        ):
            cue("image", 3.0, "gen_image")
        if f & FASSE and "zusammen" in tokens[i + 1 : i + 12]:
            cue("summarization", 3.0, "kw:fasse_zusammen")
        if (
            f & WHAT
            and tokens[i + 1 : i + 2] in (["is"], ["s"])
            and tokens[i + 2 : i + 3] in (["this"], ["the"], ["it"])
            and "about" in tokens[i + 3 : i + 7]
        ):
            cue("summarization", 1.5, "what_is_it_about")
        if f & PROG_LANG and get(i - 1, 0) & WITH:
            cue("coding", 1.0, "in_prog_lang")
        if f & KEYADJ and not _advice_before(marks, i):
            for j in (i - 2, i - 1, i + 1, i + 2):
                if get(j, 0) & POINTS and tokens[j + 1 : j + 2] != ["to"]:
                    cue("summarization", 1.5, "key_points")
                    break
        if f & WANT and get(i + 1, 0) & DET and any(get(j, 0) & IMG_NOUN for j in (i + 2, i + 3)):
            cue("image", 2.5, "want_image")
        if f & DRAW_VERB and not _advice_before(marks, i):
            j = i + 2 if get(i + 1, 0) & ME else i + 1
            if get(j, 0) & DET:
                cue("image", 3.0, "draw_request")
        if f & DESC:
            cue("image", 1.0, "prompt_style:" + tokens[i])
        if f & SUMMAR and _advice_before(marks, i):
            cue("summarization", -3.5, "not:advice_about_summary")
        if f & UNIT and i > 0 and (get(i - 1, 0) & (NUMWORD | DET) or tokens[i - 1].isdigit()):
            cue("summarization", 1.25, "length_limit")
            if tokens[i - 3 : i - 1] == ["down", "to"]:  # "boil/cut/get it down to a line"
                cue("summarization", 1.5, "down_to_length")
        if f & COMPARATIVE and get(i + 1, 0) & THAN:
            comparatives += 1
        if f & ALL and get(i + 2, 0) & ARE:
            all_are += 1
        threads = threads or bool(f & THREAD)
        processes = processes or bool(f & PROCESS)
    if comparatives >= 2:
        cue("reasoning", 2.0, "ordering_puzzle")
    if all_are >= 2:
        cue("reasoning", 1.5, "syllogism")
    if threads and processes:
        cue("coding", 1.2, "threads_and_processes")


def _advice_before(marks: dict[int, int], i: int) -> bool:
    """'how do I draw', 'tips for summarizing': asking how to do it, not asking for it."""
    return any(marks.get(j, 0) & ADVICE for j in range(max(0, i - 6), i))


def _score_numbers(
    text: str, low: str, tokens: list[str], marks: dict[int, int], cue: _CueFn, cjk: bool
) -> None:
    """Word problems: several quantities and a question about a quantity."""
    numbers = len(_DIGITS.findall(text))
    qmath = qwhat = False
    for f in marks.values():
        if f & NUMWORD:
            numbers += 1
        qmath = qmath or bool(f & QMATH)
        qwhat = qwhat or bool(f & QWHAT)
    if cjk:
        qmath = qmath or any(w in low for w in _CJK_QMATH)
        numbers += sum(1 for ch in low if ch in _CJK_NUMERALS)
    question = "?" in text or "\uff1f" in text
    if numbers >= 2 and (qmath or (question and qwhat)):
        cue("reasoning", 1.5, "word_problem")
    elif numbers >= 3 and question and not any(t in _ADVICE_WORDS for t in tokens):
        # Several quantities and a question, in a short message: a word problem told
        # without the word "calculate" (or in a language the lexicon does not know).
        cue("reasoning", 1.5 if len(text) < SHORT_PROBLEM else 1.0, "numbers_question")
    elif question and (qmath or numbers):
        # A hint too weak to decide on, but one that lowers the confidence in "chat" (so the
        # confidence gate can ask a better classifier about "how many squares ...?").
        cue("reasoning", 0.75 if qmath else 0.5, "quantity_hint")
    if "%" in text:
        cue("reasoning", 0.5, "percent")
    if text.count("$") + text.count("\u20ac") + text.count("\u00a3") >= 2 and numbers >= 2:
        cue("reasoning", 0.5, "money_amounts")
    if numbers and (
        _MATH_EXPR.search(low)
        or ("=" in low and _EQUATION.search(low))
        or any(sym in low for sym in _MATH_SYMBOLS)
    ):
        cue("reasoning", 2.0, "math_expr")
    if any(s in low for s in _MATH_NOTATION):
        cue("reasoning", 1.5, "math_notation")


def _has_word(text: str, word: str) -> bool:
    """``word`` standing alone (case-sensitive); a find loop, as a regex with \\b is slow."""
    i = text.find(word)
    n = len(word)
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + n : i + n + 1] or " "
        if not before.isalnum() and not after.isalnum():
            return True
        i = text.find(word, i + n)
    return False


def _code_evidence(text: str, acc: _Scores, weight: float, prefix: str) -> float:
    """Code recognised from its shape (fences, stack traces, syntax), with ``str.count``."""
    score = 0.0
    if "```" in text:
        score += 4.0
        acc.add("coding", 4.0 * weight, prefix + "code_fence")
    if "Traceback (most recent call last)" in text or '.py", line ' in text:
        score += 4.0
        acc.add("coding", 4.0 * weight, prefix + "stack_trace")
    elif ".java:" in text or "\tat " in text or ".js:" in text:
        score += 2.0
        acc.add("coding", 2.0 * weight, prefix + "stack_frame")
    c = text.count
    syntax = 0.0
    if "=" in text:
        syntax += 0.8 * sum(map(c, _EQ_OPS)) + 1.2 * c("===")
    syntax += 0.8 * (sum(map(c, _OPS)) - c("-->"))
    if "(" in text:
        syntax += 0.8 * sum(map(c, _CALLS))
    syntax += 0.8 * sum(map(c, _KEYWORDS))
    if "{" in text:
        braces = c("{") + c("}")
        syntax += (0.3 * braces if braces >= 2 else 0.0) + 0.8 * (c("{\n") + c("}\n"))
    if ";" in text:  # where code puts semicolons, not where prose does
        syntax += 0.6 * (c(";\n") + c(");") + c("};"))
    if "\\" in text or "[a-z" in text or "(?" in text:
        regex = sum(map(c, _REGEX_BITS))
        syntax += 1.0 * regex if regex >= 2 else 0.0
    if c("`") >= 2:
        syntax += 1.5
    if _has_word(text, "Go"):
        acc.add("coding", 0.6 * weight, prefix + "kw:Go")
    if "c++" in text or "C++" in text or "C#" in text:
        acc.add("coding", 1.5 * weight, prefix + "kw:c++/c#")
    shaped = _code_tokens(text)
    if shaped:
        syntax += min(1.6, 0.8 * shaped)
    if syntax >= 1.0:
        syntax = min(syntax, 4.0)
        score += syntax
        acc.add("coding", syntax * weight, prefix + "code_syntax")
    return score


def _code_tokens(text: str) -> int:
    """Distinct identifiers written as code writes them and prose does not: camelCase,
    snake_case, a method call, a file name with a source extension, a command-line flag.

    A loop over whitespace-split words: a regex for the same costs ~0.7 ms per 2 KB here.
    """
    found: set[str] = set()
    for raw in text[:CODE_TOKEN_CHARS].split():
        if len(raw) < 4 or not raw.isascii():
            continue
        tok = raw.strip(_TOKEN_EDGES)
        if len(tok) < 4:
            continue
        if tok.startswith("--"):
            if tok[2:3].isalpha():
                found.add(tok)
        elif "." in tok:
            if tok.endswith(_SOURCE_EXTS) or ("(" in raw and tok[0].isalpha()):
                found.add(tok)
        elif not tok.isalnum():
            if "_" in tok[1:-1] and tok[0].isalpha() and tok.replace("_", "").isalnum():
                found.add(tok)  # snake_case
        elif tok[0].islower() and not tok.islower():
            found.add(tok)  # camelCase
    return len(found)


def _score_text(text: str, weight: float, acc: _Scores, prefix: str = "") -> float:
    """All cues of one message; returns its code evidence (fence, trace, syntax)."""
    regions = _regions(text)
    scanned = text if len(regions) == 1 else "\n".join(part for part, _ in regions)
    code = _code_evidence(scanned, acc, weight, prefix)
    long = len(text) > LONG_TEXT
    for part, w in regions:
        if not part:
            continue
        if w == 1.0 or long:
            _score_region(part, w * weight, acc, prefix, ask=w == 1.0)
            continue
        # Pasted material beside a short ask: its cues count, but never up to a decision.
        pasted = _Scores()
        _score_region(part, w * weight, pasted, prefix, ask=False)
        for task, score in pasted.score.items():
            if score:
                acc.add(task, min(score, MATERIAL_CAP * weight), prefix + "pasted:" + task)
    if long and len(regions) > 1:
        acc.add("summarization", 1.0 * weight, prefix + "long_paste")
    return code


def _is_follow_up(text: str) -> bool:
    """A short turn that leans on the previous one: "ok, now do the same for this one"."""
    if len(text) > FOLLOW_UP_CHARS:
        return False
    tokens = _tokenize(text.lower())
    if not tokens:
        return True
    first = _LEX.get(tokens[0])
    if first is not None and first.flags & FOLLOW:
        return True
    for i, tok in enumerate(tokens):
        e = _LEX.get(tok)
        if e is None:
            continue
        for rest, _cues, flags in e.phrases:
            if flags & FOLLOW and tokens[i + 1 : i + 1 + len(rest)] == list(rest):
                return True
    return "again" in tokens or "instead" in tokens


def _score_previous(tail: Sequence[Any], user_idx: int, acc: _Scores) -> None:
    """Score the turn before a follow-up: the previous user message and the reply to it."""
    for i in range(user_idx - 1, -1, -1):
        role = _role(tail[i])
        if role == "assistant":
            _score_text(_message_text(tail[i])[0], PREV_ASSISTANT_WEIGHT, acc, "prev:")
        elif role == "user":
            _score_text(_message_text(tail[i])[0], PREV_USER_WEIGHT, acc, "prev:")
            return


#: Logistic calibration of the confidence, ``P(right) = 1 / (1 + exp(-(a + b * x)))``, one
#: (a, b) per kind of decision. For a task, x is its score's lead over the runner-up (chat's
#: own score and 0 included); for chat, x is how far the best task stays below
#: ``THRESHOLD`` or below chat's own cues, whichever is more. Fitted by
#: ``tests/data/fit_confidence.py`` on the training rows (the main evaluation set and the
#: development batch), never on the held-out or fresh batches.
CALIBRATION: dict[str, tuple[float, float]] = {
    "task": (0.563, 1.124),
    "chat": (0.937, 1.142),
}


def _lead(acc: _Scores, task: str, overruled: str = "") -> float:
    """The decision's feature for :data:`CALIBRATION` (see there); an ``overruled`` verb
    (summarizing code is coding) is no rival."""
    score = acc.score
    if task == "chat":
        best = max(s for t, s in score.items() if t != "chat")
        return max(THRESHOLD - best, score["chat"] - best)
    rivals = [s for t, s in score.items() if t not in (task, overruled)]
    return score[task] - max(0.0, *rivals)


def _confidence(kind: str, x: float) -> float:
    """The calibrated probability that the decision is right, to two decimals."""
    a, b = CALIBRATION[kind]
    z = max(-30.0, min(30.0, a + b * x))
    return round(min(0.99, 1.0 / (1.0 + math.exp(-z))), 2)


def decision_feature(body: Mapping[str, Any]) -> tuple[str, str, float] | None:
    """(task, kind, x) of a request the text decides, None when its structure decides.

    For ``tests/data/fit_confidence.py``; the same path :func:`heuristic_classify` takes.
    """
    decided = _decide(body)
    return None if isinstance(decided, Classification) else decided[:3]


def _result(task: str, confidence: float, signals: Sequence[str]) -> Classification:
    return Classification(task, confidence, tuple(signals[:8]), CLASSIFIER_NAME)


def _other_shapes(body: Mapping[str, Any]) -> list[Any]:
    """Messages from the legacy completions ``prompt`` or the Responses API ``input``."""
    prompt: Any = body.get("prompt")
    if isinstance(prompt, list):
        prompt = "\n".join(p for p in prompt[:MAX_PARTS] if isinstance(p, str))
    if isinstance(prompt, str) and prompt:
        return [{"role": "user", "content": prompt}]
    messages: list[Any] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str) and given:
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for item in given[-MAX_MESSAGES:]:
            if isinstance(item, Mapping) and item.get("type") == "function_call_output":
                messages.append({"role": "tool", "content": item.get("output")})
            elif isinstance(item, Mapping) and "role" in item:
                messages.append(item)
    return messages if any(_role(m) != "system" for m in messages) else []


def heuristic_classify(body: Mapping[str, Any]) -> Classification:
    """Classify an OpenAI chat-completions request into one of the seven task types.

    Pure and cheap: no I/O, bounded reading. Structure decides first (tool results, images,
    tools), then cues in the latest user message, the system prompt counting half. The
    confidence is a calibrated probability of being right (see :data:`CALIBRATION`).
    """
    decided = _decide(body)
    if isinstance(decided, Classification):
        return decided
    task, kind, x, signals = decided
    return _result(task, _confidence(kind, x), signals)


def _decide(
    body: Mapping[str, Any],
) -> Classification | tuple[str, str, float, Sequence[str]]:
    """A structural classification, or (task, calibration kind, feature, signals)."""
    if not isinstance(body, Mapping):
        return _result("chat", 0.3, ("no_messages",))
    messages: Any = body.get("messages")
    if not isinstance(messages, list) or not messages:
        messages = _other_shapes(body)
    if not messages:
        return _result("chat", 0.3, ("no_messages",))
    tail: Sequence[Any] = messages[-MAX_MESSAGES:]

    # 1. A tool result is the last message: the model is mid-way through an agent loop.
    if _role(tail[-1]) in ("tool", "function"):
        return _result("agent_step", 0.98, ("last_tool_result",))
    user_idx = -1
    for i in range(len(tail) - 1, -1, -1):
        if _role(tail[i]) == "user":
            user_idx = i
            break
    user_text, user_image = _message_text(tail[user_idx]) if user_idx >= 0 else ("", False)
    # 2. An image in the latest user turn needs a vision model, whatever the text asks.
    if user_image:
        return _result("image", 0.97, ("image_part",))
    # 3. Tools on offer: the model acts as an agent and must be able to call them.
    if _non_empty_list(body.get("tools")) or _non_empty_list(body.get("functions")):
        return _result("agent_step", 0.9, ("tools",))

    acc = _Scores()
    code = _score_text(user_text, 1.0, acc)
    for message in messages[:3]:
        if _role(message) in ("system", "developer"):
            _score_text(_message_text(message)[0][:SYSTEM_CHARS], SYSTEM_WEIGHT, acc, "sys:")
    if acc.best()[1] < THRESHOLD and user_idx > 0 and _is_follow_up(user_text):
        _score_previous(tail, user_idx, acc)
    task, score, _ = acc.best()
    # The object decides over the verb: summarizing or translating code is coding.
    overruled = ""
    if task in ("summarization", "translation") and code >= 2.0:
        overruled, task, score = task, "coding", acc.score["coding"]
    if score < THRESHOLD or acc.score["chat"] >= score:
        signals = acc.signals.get("chat") or ["no_task_cues" if score < 0.75 else "weak_cues"]
        return "chat", "chat", _lead(acc, "chat"), signals
    return task, "task", _lead(acc, task, overruled), acc.signals.get(task, [])
