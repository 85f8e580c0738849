"""The cue data: which words, phrases, stems and token flags point to which task (data only).

Expanded once at import by :mod:`.lexicon`; edit here to teach the classifier a word.
"""

from __future__ import annotations

from collections.abc import Callable

Cue = tuple[str, float, str]  # (task type, weight, signal name)
CueFn = Callable[[str, float, str], None]

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
SOFT_NOUN = 1 << 36  # app / page / script / program ...: software named in plain words
SOFT_VERB = 1 << 37  # crashes / freezes / returns / loads: what software does, and does wrong
OWNER = 1 << 38  # my / the / our / mi / mein: "my page reloads"

LANGS = (
    "english spanish french german italian portuguese dutch swedish norwegian danish finnish "
    "polish czech slovak russian ukrainian greek turkish arabic hebrew hindi bengali urdu "
    "punjabi chinese mandarin cantonese japanese korean thai vietnamese indonesian malay "
    "tagalog filipino swahili latin catalan romanian hungarian persian farsi croatian serbian "
    "bulgarian icelandic irish welsh italians germans spaniards brazilians mexicans "
    "parisians russians koreans "
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

WORD_CUES: list[tuple[str, float, str]] = [
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
    # software in plain words: one of these is no decision, two or three are ("my page
    # reloads when I press the button", "the query got slow once the table grew")
    (
        "coding",
        1.5,
        "css stylesheet stylesheets uuid immutable mutable commits коммит коммита коммиты",
    ),
    (
        "coding",
        0.8,
        "website websites webpage browser browsers login logout signup db cache cached caching "
        "deployed redeploy reload reloads reloading refresh refreshing button buttons dropdown "
        "checkbox textbox click clicked freezes hangs port ports localhost builds imports "
        "import module modules installed install installing timestamps timestamp utc hosting "
        "runner password passwords hashed página pagina formulario botón bouton formulaire "
        "schaltfläche "
        "formular prints printed column columns cell cells",
    ),
    ("coding", 0.5, "page pages file files folder app apps query table rows row print list lists"),
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
    ("summarization", 1.5, "overview"),
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

PHRASE_CUES: list[tuple[str, float, str]] = [
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
        "summarization",
        2.5,
        "essentials of this|essentials of it|the essentials here",
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
    # puzzles told as a story: a way to be found, a grid of who has what
    (
        "reasoning",
        1.5,
        "how does he manage|how does she manage|how do they manage|how does he do it|"
        "how does she do it|how can he do it|how can she do it|each have a different|"
        "each has a different|each own a different|each owns a different|exactly once|"
        "how do you time|how do you measure exactly|how do you get exactly",
    ),
    (
        "reasoning",
        1.0,
        "qué día|quel jour|welcher tag|che giorno|que dia|какой день|combien de fois|"
        "cuántas veces|wie oft|quante volte|quantas vezes",
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

FLAG_WORDS: list[tuple[int, str]] = [
    (LANG, LANGS),
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
    (ALL, "all every no some"),
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
    (
        SOFT_NOUN,
        "app apps site website webpage page script program programa programme code form button "
        "list array table query game server database db function method loop endpoint api bot "
        "extension plugin macro spreadsheet formula build tests",
    ),
    (
        SOFT_VERB,
        "crashes crash crashed freezes freeze froze hangs stutters lags loads reloads renders "
        "shows displays prints returns throws runs keeps compiles fails breaks works stops takes "
        "submits opens closes comes remember remembers take print come load return run open "
        "close cierra falla plante stürzt",
    ),
    (OWNER, "my our the mi mon ma mein meine il mio"),
]

FLAG_PHRASES: list[tuple[int, str]] = [
    (
        ADVICE,
        "how do i|how to|how can i|how should i|how would i|good way to|best way to|tips for|"
        "tips on|learn to|learning to|teach me to|structure the|structure an|structure a|"
        "write a good|writing a",
    ),
    (
        QMATH,
        "how many|how much|how long|how old|how far|how thick|how tall|how fast|how often|"
        "wie viele|wie viel|wie lange|wie alt|quel âge|qué edad|quantos anos|combien de temps|"
        "cuánto tiempo|quanto tempo|at what time|which is longer|which is shorter|"
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
STEM_CUES: list[tuple[str, float, str]] = [
    (
        "translation",
        2.0,
        "übersetz ubersetz traduc tradui traduz tradução traduzione перевед перевод",
    ),
    ("summarization", 3.0, "zusammenfass riassum synops recapitul кратк перескаж"),
    ("coding", 1.5, "debugg refactor"),
    ("reasoning", 1.5, "demuestr dimostr démontr probabil berechn вычисл"),
]
STEM_FLAGS: list[tuple[int, str]] = [
    (TR_VERB, "übersetz ubersetz traduc tradui traduz tradução traduzione перевед"),
    (SUMMAR, "zusammenfass riassum synops"),
]

# CJK and Hangul have no spaces between words: plain substring checks, when present.
CJK_CUES: list[tuple[str, float, str, str]] = [
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
CJK_GEN_VERBS = ("作って", "作成", "生成", "描", "做一", "制作", "画", "만들", "생성", "그려")
CJK_NUMERALS = "二三四五六七八九十百千万两半"
CJK_QMATH = (
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
    "얼마",
)
