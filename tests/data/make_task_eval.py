# ruff: noqa: E501, RUF001
"""Build ``task_eval.jsonl``: the labelled set the task classifiers are measured on.

Run ``python tests/data/make_task_eval.py`` from the repository root; the output is
deterministic (a fixed seed drives every variation), so re-running it gives the same file.

Every prompt here was written for omni-proxy. The hand-written prompts carry the meaning;
the generator only adds the surface variety real traffic has (generic system prompts, an
unrelated opening exchange, typos, lower-case terse style, content-part arrays instead of
plain strings) and never changes what is being asked, so it never changes a label.

Rows come in three parts, told apart by an optional "split" field: the main set (no field,
494 rows, written before the heuristic classifier), "holdout" (130 rows, written after the
first tuning and scored once untuned: macro accuracy 0.839) and "holdout2" (95 rows, written
after all tuning and scored once untuned: 0.837). Both held-out parts were later used to fix
general gaps, so today's figures on them are no longer held-out figures. Measure a new
classifier on the whole file; to get an honest figure for a tuned one, add a fresh batch.

Labelling rules (the same rules are in ``tests/data/README.md``):

Structure first, in this order:
1. The last message is a tool (or legacy ``function``) result  -> ``agent_step``.
2. The latest user message has an image part (``image_url``)  -> ``image``, whatever the
   text asks (reading code in a screenshot, translating a sign in a photo, ...).
3. The request carries a non-empty ``tools`` (or legacy ``functions``) list -> ``agent_step``,
   whatever the text asks: the model is acting inside an agent loop and must call tools.
Then what the latest user message asks for (an instruction in the system prompt counts too):
4. ``image``: the wanted output is a picture: generate, draw, paint, render, design a
   logo/poster/icon, or a bare image-generation prompt ("watercolor of a harbor at dawn").
   Talking about pictures is not: "how do I draw an eye" or "write a Midjourney prompt"
   is chat, "draw up a plan" is chat, "write SVG for a logo" is coding.
5. ``coding``: the object is source code, software or developer tooling: writing,
   fixing, explaining, reviewing, converting ("translate this Python to Go") or
   summarising code; stack traces and error messages from programs; questions about
   programming concepts even with no code in them; SQL, regex, shell, spreadsheet
   formulas, LaTeX markup, CI configs. Code wins over summarize/translate verbs.
6. ``reasoning``: a problem with a definite answer reached by working it out: arithmetic
   and algebra, word problems (with or without digits), probability, proofs, logic
   puzzles and riddles, Fermi estimates, "think step by step" puzzles. Algorithm
   complexity questions are coding, not reasoning.
7. ``summarization``: condense something: summarize / tl;dr / key points / gist / recap /
   abstract / "make this shorter" / action items of a meeting, of a pasted text, a
   conversation, a known work or a topic, in any language, and also when the summary is
   wanted in another language. Advice about writing summaries is chat.
8. ``translation``: render natural-language text in another natural language, or say
   what a foreign word or phrase means / how to say something in a language, including
   checking a translation. Text that merely is in another language is labelled by what
   it asks. Metaphorical "translate" ("how does this translate into sales") is chat;
   converting code between programming languages is coding.
9. ``chat``: everything else: questions, advice, opinions, explanations, creative
   writing, e-mails, role play, editing and proofreading, questions about a pasted text
   that are not a request to condense it, grammar and usage of a language.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

SEED = 20250502
SOURCE = "written for omni-proxy"
OUT = Path(__file__).with_name("task_eval.jsonl")

# ---------------------------------------------------------------------------------------
# Long texts, pasted into prompts of several task types: the ask decides the label.
# ---------------------------------------------------------------------------------------

ARTICLE = """Riverton's city council voted 7–2 on Tuesday night to expand the protected bike-lane network by 40 kilometres over the next three years, the largest single investment in cycling infrastructure in the city's history. The plan, which will cost an estimated 62 million dollars, prioritises routes connecting the eastern residential districts to the downtown core and the university campus.

Supporters packed the council chamber, many wearing yellow "Safe Streets Now" shirts. Councillor Maria Okafor, who sponsored the motion, pointed to last year's figures: 14 cyclists were seriously injured on Harbour Road alone, a stretch that will be among the first to receive concrete barriers. "We have the data, we have the demand, and we finally have the money," she said.

Not everyone was convinced. Representatives of the Downtown Business Association argued that removing roughly 600 on-street parking spaces would hurt shops that depend on drive-in customers, and asked for a two-year pilot instead. Councillor Tom Brandt, one of the two dissenting votes, said the cost estimates were "optimistic at best" and warned of overruns similar to those on the stalled tram extension.

City staff will now prepare detailed designs, with public consultations scheduled for the spring. Construction on the first phase is expected to begin in early autumn, and the transport department has promised monthly progress reports on its website. A citizens' advisory panel, including cyclists, drivers and business owners, will review each phase before work starts."""

MEETING = """Priya: Okay, let's start. Main topic is the checkout redesign. Dan, where are we?
Dan: Design is about 80% done. The payment step still needs the new error states, I'll have those by Thursday.
Priya: Good. Marco, engineering?
Marco: Backend is ready behind a feature flag. Frontend is blocked on Dan's error states, so realistically we start integration Friday.
Priya: That pushes QA into next week. Lena, is that a problem?
Lena: It's tight. If I get a build by Monday I can finish regression by Wednesday. Anything later and we miss the 15th.
Priya: Then Monday is the hard deadline for the build. Marco, can you commit to that?
Marco: Yes, if the designs land Thursday.
Dan: They will.
Priya: One more thing — legal wants the new terms checkbox on the payment page. Who owns that?
Marco: I'll add it, it's small.
Priya: Great. Lena, please also set up the A/B test for the old vs new flow, 10% of traffic to start.
Lena: Will do. I'll need analytics to confirm the tracking events first.
Priya: I'll ping analytics today. Okay, that's it — thanks everyone."""

RESEARCH = """Background: Sleep is thought to support the consolidation of newly learned information, but the contribution of short daytime naps remains debated, particularly in adults over sixty.
Methods: We randomly assigned 184 healthy adults aged 60 to 78 to one of three conditions after a word-pair learning task: a 20-minute nap, a 60-minute nap, or quiet wakefulness. Recall was tested 90 minutes and again 24 hours after learning. Sleep was recorded with portable EEG.
Results: Participants in the 60-minute nap group recalled 12% more word pairs at 24 hours than the wake group (p = 0.003), while the 20-minute group did not differ significantly from either. Within the nap groups, time spent in slow-wave sleep predicted retention (r = 0.41). Subjective sleepiness did not differ between groups at the time of testing.
Conclusions: A longer afternoon nap containing slow-wave sleep may modestly improve memory retention in older adults. Short naps, although popular, showed no measurable benefit in this sample. Larger studies with more diverse participants are needed before making recommendations."""

EMAIL_THREAD = """From: Jordan Lee
To: Supplies Team
Subject: RE: RE: Order #4471 — still not delivered

Hi all, just following up again. The chairs for the new office were supposed to arrive last Monday and we still have nothing. We have 25 people starting on the 3rd and nowhere for them to sit. Can someone please give me a real date?

---
From: Amira (Supplies)
Hi Jordan, apologies. The supplier told us on Friday that the shipment was held at the port due to a customs paperwork issue. They've resubmitted the documents and expect release by Wednesday, with delivery Thursday or Friday.

---
From: Jordan Lee
Thursday or Friday is cutting it very close. Is there any chance of a partial delivery, or can we rent chairs for the first week as a backup?

---
From: Amira (Supplies)
I checked: partial delivery isn't possible because it's a single container. I've reserved 25 rental chairs from OfficeHire for the 2nd, which we can cancel free of charge until Tuesday noon if the shipment is confirmed. I'll update you Tuesday morning either way."""

REVIEW = """I've been using the Kessler Burr Pro for about four months now, mostly for pour-over and the occasional French press, and I have mixed feelings. Let's start with the good: the grind consistency is excellent for the price. Compared to my old blade grinder, the difference in the cup is night and day — less bitterness, more clarity, and I can actually taste the fruity notes in light roasts. The dial has 40 settings and the steps are small enough that dialing in is easy.

Now the bad. It is LOUD. My partner has banned me from using it before 7am. Retention is also a problem: about half a gram stays in the chute every time, so you need to tap it or use the little bellows they include, which feels cheap. The hopper lid cracked after two months (customer service sent a replacement quickly, to their credit). And for espresso, forget it — the finest setting is still too coarse.

Overall, if you brew filter coffee and can live with the noise, it's a solid upgrade. If you want one grinder for everything, look elsewhere."""

POLICY = """Remote Work Policy — effective 1 March
1. Eligibility. Employees who have completed their probation period may work remotely up to three days per week, subject to their manager's approval. Roles that require on-site equipment are excluded.
2. Core hours. Remote employees must be reachable between 10:00 and 15:00 local office time and respond to messages within one hour during that window.
3. Equipment. The company provides a laptop and a monitor. A one-time home office allowance of 300 euros is available on request; receipts must be submitted within 30 days.
4. Security. Company data may only be accessed through the VPN. Working from public Wi-Fi without the VPN is prohibited. Printed confidential documents must not leave the office.
5. Working abroad. Remote work from another country is limited to 20 working days per calendar year and requires HR approval at least two weeks in advance because of tax and insurance rules.
6. Review. Managers may revoke remote work arrangements with two weeks' notice if performance or collaboration suffers. This policy will be reviewed annually."""

STORY = """The lighthouse had been dark for eleven years when Nell climbed its stairs for the first time. She counted the steps out of habit — one hundred and twelve — and paused at every landing, where the windows showed the same grey sea from slightly different heights. At the top, the great lens was furred with dust, and someone had left a tin mug on the ledge, as if they had stepped out for a moment and never come back.

She wiped the glass with her sleeve. Below, the village was waking up: a van reversing by the harbour, gulls arguing over the fish market bins, her aunt's kitchen light blinking on. Nobody in the village talked about why the light had gone out. Her aunt changed the subject; the harbour master laughed too loudly. But in the logbook on the desk, the last entry was not about weather or ships. It said only: "He is coming back on the spring tide. Keep it dark."

Nell read it twice, then looked out at the water, where the tide was turning."""

ES_ARTICLE = """La sequía que afecta a la región desde hace tres años ha obligado a las autoridades a aprobar nuevas restricciones de agua para el verano. A partir del 1 de junio, quedará prohibido llenar piscinas privadas y regar jardines entre las diez de la mañana y las ocho de la tarde. Los ayuntamientos también deberán reducir en un 30 % el consumo en parques y fuentes públicas.

Según la agencia del agua, los embalses se encuentran al 24 % de su capacidad, el nivel más bajo registrado en dos décadas. Los agricultores, que consumen cerca del 70 % del agua disponible, recibirán ayudas para instalar sistemas de riego por goteo, aunque las asociaciones del sector consideran que las cantidades anunciadas son insuficientes.

Los expertos advierten que, incluso si llueve en otoño, la recuperación de los acuíferos podría tardar años, y piden una planificación a largo plazo que no dependa solo de medidas de emergencia."""

FR_TEXT = """Après quatre ans de travaux, le musée des Beaux-Arts de la ville rouvrira ses portes le 12 octobre. La rénovation, d'un coût de 38 millions d'euros, a permis de doubler la surface d'exposition et d'installer un nouveau système de climatisation destiné à protéger les œuvres les plus fragiles.

Le public pourra découvrir une aile entièrement consacrée à l'art contemporain, ainsi qu'un atelier pour les enfants ouvert le mercredi et le week-end. L'entrée restera gratuite pour les moins de 26 ans.

La directrice du musée espère attirer 400 000 visiteurs la première année, soit presque le double de la fréquentation avant la fermeture. Certains habitants regrettent toutefois la disparition de l'ancienne cafétéria, remplacée par un restaurant jugé trop cher."""

DE_TEXT = """Der Maschinenbauer Hollmann AG hat am Montag einen umfassenden Umbau angekündigt. Bis Ende nächsten Jahres sollen die drei bisherigen Geschäftsbereiche zu zwei zusammengelegt werden: Industrieanlagen und Service. Im Zuge der Neuordnung fallen in der Verwaltung rund 450 Stellen weg, vor allem am Hauptsitz in Stuttgart. Betriebsbedingte Kündigungen will das Unternehmen nach eigenen Angaben möglichst vermeiden und stattdessen auf Altersteilzeit und freiwillige Abfindungen setzen.

Gleichzeitig kündigte der Vorstand Investitionen von 120 Millionen Euro in das Servicegeschäft an, das zuletzt deutlich profitabler war als der Anlagenbau. Der Betriebsrat kritisierte, er sei zu spät informiert worden, und forderte Verhandlungen über einen Sozialplan. An der Börse legte die Aktie nach der Ankündigung um vier Prozent zu."""

ZH_TEXT = """今年前三个季度，国内新能源汽车销量同比增长超过三成，市场渗透率首次突破百分之四十。业内人士认为，价格下降和充电设施的完善是销量增长的主要原因。与此同时，多家车企宣布将在明年推出更便宜的入门车型，以吸引三四线城市的消费者。

不过，也有专家提醒，部分企业为了争夺市场份额而大幅降价，利润空间正在被压缩，行业可能迎来新一轮整合。此外，电池回收和二手车残值偏低等问题仍有待解决。"""

JA_TEXT = """今年の夏祭りは、四年ぶりに通常の規模で開催されることが決まった。実行委員会によると、八月の第一週末に二日間にわたって行われ、花火大会や盆踊りのほか、地元の高校生による屋台も出店する予定だ。

一方で、ボランティアの数が以前の半分ほどにとどまっており、委員会は交通整理やごみの分別を手伝ってくれる人を募集している。また、混雑を避けるため、今年から駅前の一部の道路が夕方から歩行者天国になる。"""

CHAT_LOG = """[10:02] Customer: Hi, my internet has been dropping every evening for a week.
[10:03] Agent (Sam): Sorry to hear that! Can you tell me which router model you have?
[10:05] Customer: It's the white one you sent last year, HX-200 I think.
[10:06] Agent (Sam): Thanks. I can see several disconnects on your line between 7 and 11pm. Have you tried restarting the router?
[10:07] Customer: Yes, many times. It helps for an hour and then it drops again.
[10:09] Agent (Sam): Understood. There's a known firmware issue on the HX-200. I've pushed an update to your router remotely — it will restart in about 5 minutes.
[10:10] Customer: Ok. And if it still happens?
[10:11] Agent (Sam): Then we'll send a technician. I've opened ticket 88213 so you don't have to explain everything again. I've also added a 10 euro credit to your next bill for the trouble.
[10:12] Customer: Great, thanks."""

LEGAL = """14.2 Limitation of Liability. To the maximum extent permitted by applicable law, in no event shall the Provider, its affiliates, officers, employees, agents, suppliers or licensors be liable for any indirect, incidental, special, consequential or punitive damages, including without limitation loss of profits, data, use, goodwill, or other intangible losses, resulting from (i) your access to or use of or inability to access or use the Services; (ii) any conduct or content of any third party on the Services; (iii) any content obtained from the Services; and (iv) unauthorized access, use or alteration of your transmissions or content, whether based on warranty, contract, tort (including negligence) or any other legal theory, whether or not the Provider has been informed of the possibility of such damage. The Provider's aggregate liability for all claims relating to the Services shall not exceed the greater of one hundred euros or the amounts paid by you to the Provider in the twelve months preceding the claim."""

COVER_LETTER = """Dear Hiring Manager,

I am writing to apply for the position of Marketing Coordinator at Bluefin Studios. I have three years experience in social media management and I have lead campaigns for local businesses that increased there engagement by over 50%. I am passionate about storytelling and I believe that my creativity and my organisational skills makes me a great fit for your team.

In my current role at Harbor Print I manage the company Instagram and LinkedIn accounts, write the monthly newsletter and coordinate with designers and printers to deliver projects on time. I also introduced a content calendar that reduced last minute requests by half.

I would love the opportunity to bring my skills to Bluefin Studios. Thank you for you're time and consideration.

Kind regards,
Elena Varga"""

TRANSCRIPT = """so today I want to talk about why your sourdough isn't rising, because I get this question like every single day. okay. first thing, and this is the big one, your starter probably isn't as active as you think. if it doesn't double within four to six hours after feeding, it's not ready, doesn't matter how many bubbles you see on top. second thing is temperature. most people's kitchens in winter are like eighteen degrees and at that temperature the bulk ferment can take ten, twelve hours, and people stop at five because the recipe said five. the recipe doesn't know your kitchen. so watch the dough, not the clock, you want it to grow maybe fifty percent and feel airy and jiggly. third, and people hate hearing this, your flour matters. if you're using a low protein all-purpose flour you're going to get a flatter loaf, switch to bread flour or mix in some. and last, shaping. if you don't build surface tension when you shape, the loaf spreads out in the oven instead of going up. I'll do a whole video on shaping next week. so, recap of the recap: active starter, warm enough dough, strong flour, tight shaping. let me know in the comments what's going wrong with yours."""

PYTHON_CLASS = """class RateLimiter:
    def __init__(self, rate, per):
        self.rate = rate
        self.per = per
        self.allowance = rate
        self.last_check = time.monotonic()

    def allow(self):
        now = time.monotonic()
        elapsed = now - self.last_check
        self.last_check = now
        self.allowance += elapsed * (self.rate / self.per)
        if self.allowance > self.rate:
            self.allowance = self.rate
        if self.allowance < 1.0:
            return False
        self.allowance -= 1.0
        return True

    def wait_time(self):
        if self.allowance >= 1.0:
            return 0.0
        return (1.0 - self.allowance) * (self.per / self.rate)"""

JS_SNIPPET = """function debounce(fn, ms) {
  let timer;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), ms);
  };
}"""

REVIEWS_LIST = """1. "Battery lasts two full days, love it. Strap is a bit stiff at first." ★★★★★
2. "Stopped syncing with my phone after a week. Support was slow to answer." ★★
3. "Great screen, easy to read in sunlight. The heart-rate sensor seems off during runs." ★★★★
4. "Sync issues again after the last update, have to re-pair every morning." ★★
5. "Comfortable enough to sleep with, sleep tracking is surprisingly accurate." ★★★★★
6. "Charger cable is proprietary and already frayed. Annoying." ★★★
7. "Best value smartwatch I've owned, the battery is amazing." ★★★★★
8. "Heart rate jumps to 180 when I'm just walking. Not trustworthy for training." ★★"""

PRESS_RELEASE = """FOR IMMEDIATE RELEASE — Greenfield Foods today announced that it will phase out single-use plastic packaging across its entire range of fresh produce by the end of next year. The company, which supplies more than 1,200 supermarkets nationwide, will switch to compostable trays made from sugar-cane fibre and paper-based wraps. Greenfield says the change will remove an estimated 3,400 tonnes of plastic per year. The transition will start with berries and salad leaves in the spring, followed by vegetables in the autumn. Prices for shoppers are expected to remain unchanged. 'Our customers have been asking for this for years,' said CEO Dana Whitfield. 'We wanted to be sure the new packaging keeps produce as fresh as before, and after eighteen months of trials we are confident it does.'"""

REDDIT_POST = """Throwaway because my coworkers know my main. So I (29F) have been at this company for 4 years. Last month my manager left and I was basically asked to do her job "temporarily" on top of mine. No raise, no title change, just "we'll revisit it in Q3". I've been working until 8pm most nights, I hired two people, ran the quarterly planning and presented to the VP twice. Yesterday I found out they posted my manager's job externally and HR said I'm "welcome to apply like anyone else". I love my team but I'm honestly so angry I can barely look at my boss's boss. My partner says quit, my parents say stay and prove myself. I have about 6 months of savings. I'm not sure if I'm overreacting or if this is as bad as it feels."""


# ---------------------------------------------------------------------------------------
# Entries. A plain string is one user message. A dict may carry: user (str or content
# parts), system, history (list of (role, content)), tools, vary (False: leave untouched).
# ---------------------------------------------------------------------------------------

Entry = str | dict[str, Any]

IMG_URLS = [
    "https://images.example.com/uploads/7f3a9c/photo.jpg",
    "https://cdn.example.org/u/83421/IMG_2231.jpeg",
    "https://files.example.net/screens/Screenshot_2025-03-02_at_10.14.55.png",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHSEfHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==",
]
AUDIO_B64 = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="


def img(i: int, detail: str | None = None) -> dict[str, Any]:
    """An ``image_url`` content part pointing at one of the fake images."""
    part: dict[str, Any] = {"url": IMG_URLS[i % len(IMG_URLS)]}
    if detail:
        part["detail"] = detail
    return {"type": "image_url", "image_url": part}


def txt(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def audio() -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": AUDIO_B64, "format": "wav"}}


CHAT: list[Entry] = [
    "What's a good name for a golden retriever puppy? She's super goofy and loves water.",
    "Can you write a short, heartfelt retirement card message for my coworker Linda? She's been here 30 years and basically ran the place.",
    "How do I get red wine out of a white carpet? It happened like 10 minutes ago",
    "What's the difference between baking soda and baking powder?",
    "I'm feeling really unmotivated at work lately and I don't know why. Any advice?",
    "Write a haiku about autumn rain in the city.",
    "Is it safe to take ibuprofen and paracetamol together?",
    "Recommend me 5 sci-fi novels similar to The Expanse, preferably ones with a finished series.",
    "Explain how vaccines train the immune system, in simple terms for a 10-year-old.",
    "Help me write a polite email to my landlord asking to fix the heating. It's been broken for a week and it's getting cold at night.",
    "what should i pack for a 4 day trip to iceland in october",
    "Why is the sky blue but sunsets are red?",
    "Tell me a joke about penguins",
    "Can you make this sound more professional? 'hey team, so basically the launch is pushed cuz design isnt done, will update u when i know more'",
    "How does this new scheduling policy translate into day-to-day changes for our warehouse staff?",
    "What's the dress code for a black-tie optional wedding? I'm a guy and I don't own a tux.",
    "Is a ball python a good first pet for someone living in a small apartment?",
    "I'm visiting Java and Bali next month. Which one is better for hiking volcanoes?",
    "¿Cuál es la mejor época para visitar la Patagonia? Me gusta el senderismo pero odio el frío extremo.",
    "Comment faire une pâte brisée qui ne se rétracte pas à la cuisson ?",
    "Wie lange muss ich ein Ei kochen, damit das Eigelb noch weich ist?",
    "周末在北京有什么适合带小孩去的地方？",
    "東京で雨の日に楽しめる観光スポットを教えてください。",
    "Qual é a diferença entre MEI e ME para quem está abrindo um pequeno negócio no Brasil?",
    "Mi consigli un buon libro da leggere in spiaggia? Mi piacciono i gialli.",
    "Как научиться вставать рано утром и не чувствовать себя разбитым?",
    "요즘 잠을 잘 못 자는데 도움이 되는 방법이 있을까요?",
    "Roleplay as a grumpy medieval innkeeper. I walk in, soaked from the rain, and ask for a room.",
    "Give me some ideas for a 30th birthday party on a tight budget.",
    "What did ordinary people eat in ancient Rome on a normal day?",
    "How can I tell my best friend I can't be her bridesmaid without hurting her feelings?",
    "Write a limerick about a cat who hates Mondays.",
    "What are the pros and cons of leasing vs buying a car if I drive about 8,000 miles a year?",
    "I need a catchy slogan for a family-run ice cream shop by the beach.",
    "Who was Ada Lovelace and why is she famous?",
    "Can you explain what inflation is and why it hurts people with savings?",
    "How do I summarize my experience on a resume without sounding arrogant?",
    "What's a good way to structure the executive summary of a grant proposal?",
    "The code word for my sister's surprise party is 'pineapple'. Write a funny invitation that hints at it without giving it away.",
    "Draw up a weekly meal plan for a vegetarian teenager who plays football four times a week.",
    "How do I draw the line between supporting my brother and enabling his bad habits?",
    "Tell me about the Rosetta Stone and how it helped scholars read hieroglyphs.",
    "Is it worth learning Spanish or Mandarin for business these days?",
    "What's the best way to learn Japanese kanji as an adult with a full-time job?",
    "Write a bedtime story about a little dragon who is afraid of the dark.",
    "Any tips for a first marathon? Race is in 8 weeks and the longest I've done is a half.",
    "Pretend you're interviewing me for a barista position and ask me the first question.",
    "Why do cats knead blankets?",
    "Write a short toast for my sister's wedding. She met her husband at a bowling alley and they're both terrible at bowling.",
    "How do I politely decline a meeting invite from my boss's boss?",
    "hey how r u doing today",
    "What are some good houseplants for a dark, north-facing apartment?",
    "Explain the offside rule in football like I've never watched a match.",
    "Rewrite this to be friendlier: 'Your request has been denied due to missing documents. Resubmit.'",
    "Pouvez-vous m'aider à écrire une lettre de motivation pour un poste d'infirmière en pédiatrie ?",
    "Ich fühle mich in meinem neuen Job total überfordert. Was kann ich tun?",
    "¿Me ayudas a escribir un mensaje de cumpleaños para mi abuela que cumple 90 años?",
    "What's the etymology of the word 'salary'? I heard it has something to do with salt.",
    "Describe a sunset over the ocean in vivid detail, the way a novelist would.",
    "What makes a good portrait photo? I'm trying to get better at photographing people.",
    "Which is healthier, brown rice or quinoa?",
    "How do I draw a realistic eye with just a pencil? Any tips for shading?",
    "Write a Midjourney prompt for a cozy reading nook, I'll paste it into the tool myself.",
    "In Japanese, what's the difference between 'arigatou' and 'arigatou gozaimasu'? When should I use which?",
    "Was sind typische Gerichte in Bayern, die ich unbedingt probieren sollte?",
    "Quelles sont les meilleures séries françaises à regarder en ce moment ?",
    "I want to start journaling. How do I actually make it a habit?",
    {
        "user": COVER_LETTER
        + "\n\nCan you proofread this and fix the grammar mistakes? Keep my voice."
    },
    {
        "user": REVIEW
        + "\n\nDo you think this reviewer is being fair? I'm thinking of buying one for my dad."
    },
    {"user": ARTICLE + "\n\nWhat do you think — is this a good use of public money?"},
    {"user": STORY + "\n\nContinue this story for another few paragraphs, keep the same tone."},
    {
        "user": POLICY
        + "\n\nUnder this policy, can I work from my parents' place in Portugal for a month in summer?"
    },
    {
        "user": EMAIL_THREAD
        + "\n\nWrite Amira's next reply: the shipment was released and the chairs arrive Thursday morning."
    },
    {"user": ES_ARTICLE + "\n\n¿Crees que estas medidas son suficientes? Dame tu opinión sincera."},
    {
        "user": DE_TEXT
        + "\n\nWas bedeutet das konkret für mich? Ich arbeite in der Buchhaltung am Hauptsitz."
    },
    {"user": REDDIT_POST + "\n\nAm I overreacting? What would you do in my position?"},
    {
        "user": "Thanks, that was really helpful!",
        "history": [
            ("user", "How long should I rest between sets when lifting?"),
            (
                "assistant",
                "For strength work, 2–3 minutes; for hypertrophy, 60–90 seconds is usually enough.",
            ),
        ],
        "vary": False,
    },
    {
        "user": "ok and what about restaurants there? we like seafood",
        "history": [
            ("user", "We're spending three days in Porto in May. What should we see?"),
            (
                "assistant",
                "Walk the Ribeira riverfront, cross the Dom Luís I bridge to the port cellars in Gaia, visit Livraria Lello early in the morning, and take the tram to Foz do Douro for the sunset.",
            ),
        ],
        "vary": False,
    },
    {
        "user": "Haha fair enough. And do you have a favourite movie?",
        "history": [
            ("user", "do you ever get bored?"),
            (
                "assistant",
                "Not really — I don't experience time between conversations, so every chat is new to me!",
            ),
        ],
        "vary": False,
    },
    {
        "system": "You are Mia, a warm and upbeat wellness coach. Keep answers under 120 words.",
        "user": "I skipped the gym again this week and I feel like a failure.",
    },
    {
        "system": "You are a customer support assistant for Luma Home, a furniture store. Only discuss Luma Home products and orders.",
        "user": "Hi, can I return a sofa if it doesn't fit through my door? I haven't opened the packaging.",
    },
    {
        "user": [
            txt(
                "Here's a voice note from my mum, she sounds upset. What do you think I should say to her?"
            ),
            audio(),
        ]
    },
    {"user": "What's the plural of 'octopus'? Octopi sounds wrong to me.", "tools": []},
]

CODING: list[Entry] = [
    "```python\ndef avg(xs):\n    return sum(xs) / len(xs)\n```\nthis crashes when the list is empty, what's the cleanest fix?",
    "What's the difference between a list and a tuple in Python, and when should I use each?",
    "How do I undo my last git commit but keep the changes in my working directory?",
    "Write a bash one-liner that finds all files larger than 100MB in my home directory and sorts them by size.",
    'Traceback (most recent call last):\n  File "app.py", line 31, in <module>\n    main()\n  File "app.py", line 24, in main\n    config = json.loads(raw)\n  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads\n    return _default_decoder.decode(s)\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n\nany idea what causes this? the file definitely exists',
    "Why does my React component re-render forever when I call setState inside useEffect?",
    "Explain the difference between INNER JOIN and LEFT JOIN with a small example.",
    "Can you write a SQL query that returns the top 3 customers by total order value for each country?",
    "What is a closure in JavaScript? I keep hearing the term in interviews and nodding along.",
    "Translate this Python function into idiomatic Go:\n\n```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n```",
    r"Explain what this regex does: ^(?=.*\d)(?=.*[a-z])(?=.*[A-Z]).{8,}$",
    'Exception in thread "main" java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null\n\tat com.acme.users.UserService.validate(UserService.java:42)\n\tat com.acme.users.UserController.create(UserController.java:18)\n\tat com.acme.Main.main(Main.java:10)',
    "Is it better to use asyncio or threads for a web scraper that hits about 500 URLs?",
    "how do i center a div vertically and horizontally",
    "Write a Dockerfile for a Node 20 app that uses pnpm and listens on port 3000. Keep the image small.",
    "my kubernetes pod keeps going into CrashLoopBackOff, how do I figure out why?",
    {
        "user": "Summarize what this function does and when I'd use it:\n\n```js\n"
        + JS_SNIPPET
        + "\n```"
    },
    "Review this diff please, anything risky?\n\n```diff\n-    if user.is_admin:\n+    if user.is_admin or user.id == 1:\n         return render_admin(request)\n```",
    "What's the big-O of inserting into a Python dict, average and worst case?",
    "Write pytest unit tests for a function slugify(text) that lowercases, strips accents and replaces spaces with hyphens.",
    "TypeError: Cannot read properties of undefined (reading 'map') — I get this on my Next.js page only when the API is slow.",
    "What's the idiomatic way to handle errors in Go? Writing if err != nil everywhere feels so verbose.",
    "Explica la diferencia entre let, const y var en JavaScript con ejemplos.",
    "Comment est-ce que je peux lire un fichier CSV avec pandas en ignorant les lignes vides ?",
    "Wie kann ich in TypeScript einen Typ definieren, der alle Schlüssel eines Objekts optional macht?",
    "用Python写一个函数，判断一个字符串是不是回文。",
    "このエラーの意味を教えてください: ModuleNotFoundError: No module named 'numpy'",
    "Como faço para criar um ambiente virtual do Python no Windows e ativá-lo no PowerShell?",
    "My CSS grid items overflow their container on mobile. Here's the rule: .grid { display: grid; grid-template-columns: repeat(4, 300px); gap: 16px; }",
    "Optimize this query, it takes 40 seconds on 20M rows: SELECT * FROM orders o WHERE o.customer_id IN (SELECT id FROM customers WHERE country = 'DE') ORDER BY created_at DESC;",
    "What are the SOLID principles? Explain each with a short example.",
    "How should I structure a monorepo with three Python services that share a models package?",
    "Write a function in C that reverses a singly linked list in place.",
    "REST vs GraphQL: when would I pick one over the other for a mobile app backend?",
    "I'm getting 'blocked by CORS policy: No Access-Control-Allow-Origin header' when my frontend calls my Flask API. What do I do?",
    "vim: how do I delete everything from the cursor to the end of the file?",
    "Fix the bug:\n```python\nfor i in range(len(items)):\n    if items[i] == target:\n        items.remove(items[i])\n```\nit skips elements sometimes",
    "Write an Excel formula that looks up the price for a product ID from the sheet 'Prices' (IDs in column A, prices in column C).",
    "What's the point of dependency injection? Our senior dev insists on it but it looks like extra boilerplate to me.",
    "How do I make a Python script run every day at 7am on an Ubuntu server?",
    "Explain the event loop in Node.js like I'm a junior developer.",
    "Should I learn Rust or Go next? I mostly write backend services in Python.",
    {
        "user": "ok that works now, but it's really slow with a million rows. any ideas?",
        "history": [
            (
                "user",
                "How do I add a column to a pandas DataFrame based on a condition on two other columns?",
            ),
            (
                "assistant",
                "You can use `df.apply(lambda r: ..., axis=1)` or, faster, `np.where(cond, a, b)`:\n\n```python\ndf['flag'] = df.apply(lambda r: r.a > 0 and r.b < 5, axis=1)\n```",
            ),
        ],
        "vary": False,
    },
    "Write a GitHub Actions workflow that runs pytest on every push for Python 3.11 and 3.12.",
    "segfault when I free the same pointer twice?? why doesn't C just ignore it",
    "Refactor this to use a dictionary instead of the if/elif chain:\n```python\ndef price(kind):\n    if kind == 'a':\n        return 1\n    elif kind == 'b':\n        return 2\n    elif kind == 'c':\n        return 5\n    else:\n        return 0\n```",
    "How do I prevent SQL injection in PHP when building queries from form input?",
    "Why is 0.1 + 0.2 === 0.3 false in JavaScript?",
    "Write a regex that validates UK postcodes.",
    "explain this line: `flat = [x for row in grid for x in row if x]`",
    "What does git rebase -i HEAD~3 actually do? I'm scared of breaking the branch.",
    "Design a database schema for a library app: books, members, loans and reservations.",
    'Generate a TypeScript interface for this JSON: {"id": 1, "name": "Ana", "tags": ["a", "b"], "address": {"city": "Lima", "zip": null}}',
    "My Terraform plan wants to destroy and recreate the RDS instance when I only changed the tags. Why?",
    "Wie debugge ich am besten ein Speicherleck in einer Java-Anwendung, die nach ein paar Tagen abstürzt?",
    "¿Cómo configuro ESLint y Prettier juntos en un proyecto de React sin que se peleen?",
    "Quelle est la différence entre un processus et un thread, concrètement ?",
    "What's the time complexity of binary search, and why is it logarithmic?",
    {"user": "Can you add type hints and docstrings to this class?\n\n" + PYTHON_CLASS},
    "I want to build a Chrome extension that hides YouTube Shorts. Where do I start?",
    "How do I make a LaTeX table where the header cell spans two columns?",
    "Explain what a race condition is, with a real-world analogy.",
    "pandas: after a groupby, how do I get the whole row with the max value in each group?",
    "Is it bad practice to commit the .env file to the repo if it's a private repo?",
    {
        "system": "You are a senior backend engineer doing a code review. Be direct.",
        "user": "Here's my login endpoint, be brutal:\n\n```python\n@app.post('/login')\ndef login():\n    user = db.query(f\"SELECT * FROM users WHERE name = '{request.form['name']}'\")\n    if user and user.password == request.form['password']:\n        session['uid'] = user.id\n        return redirect('/')\n    return 'nope', 401\n```",
    },
    {
        "system": "You are a helpful assistant.",
        "user": "Explain the difference between `==` and `is` in Python.",
    },
    {
        "user": "Write SVG markup for a simple logo: a blue circle with a white lightning bolt in the middle."
    },
    {
        "user": "what's wrong here\n\n"
        + PYTHON_CLASS.replace("self.last_check = now\n", "")
        + "\n\nallowance keeps growing forever"
    },
    {
        "user": "Can you write a short Python script that renames all .jpeg files in a folder to .jpg?",
        "tools": [],
    },
]

REASONING: list[Entry] = [
    "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost?",
    "If it takes 5 machines 5 minutes to make 5 widgets, how long would it take 100 machines to make 100 widgets?",
    "Prove that the square root of 2 is irrational.",
    "Three friends split a restaurant bill. Anna pays twice what Ben pays, and Ben pays ten euros more than Carla. Together they paid ninety euros. How much did each of them pay?",
    "A farmer has chickens and cows. There are thirty heads and eighty-four legs in total. How many of each animal does he have?",
    "Solve for x: 3x + 7 = 22",
    "What is the probability of rolling at least one six in four rolls of a fair die?",
    "There are three boxes: one has only apples, one only oranges, and one both. Every label is wrong. You may take one fruit from one box without looking inside. How do you fix all the labels?",
    "Which is larger, 9.11 or 9.9? Explain.",
    "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies? What about the reverse?",
    "A train leaves Chicago at 3pm going 60 mph. Another train leaves St. Louis, 300 miles away, at 4pm going 75 mph toward Chicago. At what time do they meet?",
    "Think step by step: if today is Wednesday, what day of the week will it be 100 days from now?",
    "How many times a day do the hour and minute hands of a clock overlap?",
    "Estimate how many piano tuners work in Chicago. Walk me through your assumptions.",
    "Find the derivative of f(x) = x^3 * ln(x).",
    "Integrate sin^2(x) from 0 to pi.",
    "Is 1001 a prime number?",
    "Prove by induction that 1 + 2 + ... + n = n(n+1)/2.",
    "When I was six, my sister was half my age. Now I'm seventy. How old is my sister?",
    "You have two ropes that each take exactly one hour to burn, but they burn unevenly. How can you measure exactly 45 minutes?",
    "A shirt costs €40 after a 20% discount. What was the original price?",
    "Si un tren recorre 240 km en 3 horas, ¿cuánto tardará en recorrer 400 km a la misma velocidad?",
    "Un escargot monte un mur de 10 mètres. Chaque jour il monte de 3 mètres et chaque nuit il glisse de 2 mètres. En combien de jours atteint-il le sommet ?",
    "Beweise, dass es unendlich viele Primzahlen gibt.",
    "一个水池有两个进水管，甲管单独注满需要6小时，乙管单独注满需要3小时。两管同时打开，需要多长时间注满？",
    "ある数に3を足して2倍すると20になります。ある数はいくつですか？",
    "Knights always tell the truth and knaves always lie. A says 'B is a knave.' B says 'A and I are the same kind.' What are A and B?",
    "If I could fold a sheet of paper in half 42 times, roughly how thick would it be?",
    "Is this argument valid? All philosophers are mortal. Socrates is mortal. Therefore Socrates is a philosopher.",
    "What's the expected number of fair coin flips needed to get two heads in a row?",
    "In how many different ways can 8 people sit around a round table?",
    "A company's revenue grew 10% in the first year and fell 10% in the second. Is it back where it started? Explain.",
    "Can you explain the Monty Hall problem? Why is switching doors better? It still feels like 50/50 to me.",
    "Sally has three brothers. Each of her brothers has two sisters. How many sisters does Sally have?",
    "Compute 17 × 24 in your head and show the steps.",
    "Solve the system: 2x + y = 11 and x − y = 1.",
    "If you invest $5,000 at 4% annual interest compounded monthly, how much will you have after 10 years?",
    "A hundred lockers are closed. The first student opens every locker, the second toggles every second locker, the third every third, and so on up to the hundredth student. Which lockers end up open?",
    "Water lilies on a pond double their area every day, and the pond is fully covered after thirty days. On which day was it half covered?",
    "Let's reason carefully: a doctor gives you three pills and tells you to take one every half hour. How long do the pills last?",
    "Show that the product of any three consecutive integers is divisible by 6.",
    "I have a 3-litre jug and a 5-litre jug and unlimited water. How do I measure exactly 4 litres?",
    "Which weighs more, a kilogram of feathers or a kilogram of steel?",
    "The mean of five numbers is 12. Four of them are 10, 11, 14 and 9. What's the fifth?",
    "Ana, Bo and Cy own a cat, a dog and a fish, one pet each. Ana doesn't own the dog. The fish doesn't belong to Bo. Cy owns the cat. Who owns which pet?",
    "A média de idade de um grupo de 10 pessoas é 30 anos. Se uma pessoa de 50 anos sair do grupo, qual passa a ser a média?",
    "In quanti modi posso scegliere 3 libri da uno scaffale di 10?",
    "A rectangle's length is three times its width and its perimeter is 48 cm. What is its area?",
    "What's the next number in the sequence 2, 6, 12, 20, 30, ...? Why?",
    "Can you tile a chessboard with two opposite corners removed using dominoes? Why or why not?",
    "How many trailing zeros does 100! have?",
    "Fixed costs are 12,000, each unit sells for 25 and costs 15 to make. How many units do we need to sell to break even?",
    "my kid's homework: Tom has some marbles. He gives half of them to his brother and then 4 to a friend, and he has 6 left. how many did he start with? I keep getting it wrong lol",
    "Evaluate the limit of sin(5x)/x as x approaches 0.",
    "A population of bacteria triples every 4 hours. How long until it is 81 times its original size?",
    "Two painters working together finish a house in six hours. One of them alone would need ten hours. How long would the other need alone?",
    "A man looks at a portrait and says: 'Brothers and sisters I have none, but that man's father is my father's son.' Who is in the portrait?",
    "Wenn drei Katzen drei Mäuse in drei Minuten fangen, wie viele Katzen braucht man, um hundert Mäuse in hundert Minuten zu fangen?",
    "Quelle est la probabilité d'obtenir exactement deux piles en lançant trois pièces ?",
    "How much would I save in a year if I cut my $4.50 daily coffee down to three days a week?",
    "A clock shows 3:15. What is the angle between the hour hand and the minute hand?",
    "If every person in a room shakes hands with every other person exactly once and there are forty-five handshakes, how many people are in the room?",
    "Mary is older than Tom but younger than Sue. Sue is younger than Raj. Who is the second oldest?",
    {
        "user": "wait, why can't the answer just be 10 cents? walk me through it again slowly",
        "history": [
            (
                "user",
                "A bat and a ball cost $1.10 together, the bat costs $1 more than the ball. How much is the ball?",
            ),
            ("assistant", "The ball costs $0.05 and the bat $1.05."),
        ],
        "vary": False,
    },
    {
        "system": "You are a patient maths tutor. Guide the student one step at a time.",
        "user": "The sum of two numbers is twenty and their difference is four. What are the numbers?",
    },
    {
        "user": "A snail, a turtle and a rabbit race. The rabbit finishes before the turtle, the snail is not last, and the turtle beats the snail. Is that even possible? If so, what was the order?"
    },
    {
        "user": "If a plane crashes exactly on the border between the US and Canada, where do they bury the survivors?"
    },
]

SUMMARIZATION: list[Entry] = [
    {"user": ARTICLE + "\n\nSummarize this in 3 bullet points."},
    {"user": "tl;dr pls\n\n" + EMAIL_THREAD},
    {"user": MEETING + "\n\nWhat were the action items, and who owns each one?"},
    {"user": RESEARCH + "\n\nGive me the key findings in plain English, I'm not a scientist."},
    {
        "user": "Can you condense this into one short paragraph for the staff newsletter?\n\n"
        + POLICY
    },
    "Summarize the plot of Pride and Prejudice in five sentences.",
    {
        "user": "What are the main points of this review? Is the reviewer positive overall?\n\n"
        + REVIEW
    },
    {"user": ES_ARTICLE + "\n\nResume este artículo en tres frases."},
    {"user": "Fais-moi un résumé de ce texte en quelques lignes :\n\n" + FR_TEXT},
    {"user": "Fasse den folgenden Text in drei Stichpunkten zusammen:\n\n" + DE_TEXT},
    {"user": "请总结一下这篇文章的主要内容：\n\n" + ZH_TEXT},
    {"user": JA_TEXT + "\n\nこの文章を三行で要約してください。"},
    {
        "system": "You write executive briefs for busy managers: at most five bullets, no fluff.",
        "user": ARTICLE,
    },
    {"user": "Can you shorten this for me? Max 60 words.\n\n" + PRESS_RELEASE},
    {
        "user": "Summarize our conversation so far in a few bullets so I can paste it into my notes.",
        "history": [
            ("user", "I'm choosing between a heat pump and a new gas boiler for a 1970s house."),
            (
                "assistant",
                "A heat pump is cheaper to run and greener, but works best with good insulation and larger radiators. A gas boiler is cheaper upfront and simpler to install.",
            ),
            ("user", "Our walls aren't insulated. Does that rule out a heat pump?"),
            (
                "assistant",
                "Not entirely, but you'd want cavity-wall insulation first; otherwise the pump must run hotter and the savings shrink.",
            ),
        ],
        "vary": False,
    },
    {"user": CHAT_LOG + "\n\nWrite a 2-line summary of this support chat for the CRM."},
    {"user": "Can you boil this down to what I actually need to know?\n\n" + LEGAL},
    {"user": STORY + "\n\nWhat happens in this passage, briefly?"},
    {"user": "Give me the gist of this thread, I've been on vacation:\n\n" + EMAIL_THREAD},
    {
        "user": "TL;DR of the article below? And what's the main argument against the plan?\n\n"
        + ARTICLE
    },
    "Summarise the main arguments for and against nuclear power in a short table.",
    "Recap the main events of the French Revolution in bullet points, just the essentials.",
    {"user": "Write an abstract (max 150 words) for this paper draft:\n\n" + RESEARCH},
    {"user": "Resumen de los puntos clave, por favor:\n\n" + MEETING},
    {"user": "Kannst du mir kurz sagen, worum es in diesem Artikel geht?\n\n" + ARTICLE},
    {"user": "De quoi parle ce rapport, en gros ?\n\n" + RESEARCH},
    {"user": "这段对话的要点是什么？\n\n" + CHAT_LOG},
    {"user": "要点を箇条書きでまとめてください。\n\n" + MEETING},
    {
        "user": "here's the transcript of a 20 min video, what's it about in a nutshell?\n\n"
        + TRANSCRIPT
    },
    "Summarize 'Thinking, Fast and Slow' chapter by chapter, a sentence or two each.",
    {"user": "Can you give me the short version of this?\n\n" + POLICY},
    {
        "user": "Condense these reviews into the top 3 complaints and the top 3 things people like:\n\n"
        + REVIEWS_LIST
    },
    {
        "user": "Write a headline and a two-sentence summary for this press release:\n\n"
        + PRESS_RELEASE
    },
    {"user": "sum up this reddit post for me, it's long and I'm on my phone\n\n" + REDDIT_POST},
    {"user": "What's this study's main takeaway, in two lines?\n\n" + RESEARCH},
    "Give me a quick synopsis of the first season of Breaking Bad, no spoilers past season 1.",
    "What's the gist of Stoicism in three sentences?",
    "Summarize the book 1984 in one paragraph.",
    {
        "system": "Summarize every document the user sends in at most five bullet points. Reply in English.",
        "user": FR_TEXT,
    },
    {
        "system": "You are a meeting assistant. Turn transcripts into short minutes: decisions, action items, open questions.",
        "user": MEETING,
    },
    {
        "user": "Please summarize this Spanish article in English, three bullets max:\n\n"
        + ES_ARTICLE
    },
    {"user": "Zusammenfassung bitte, maximal fünf Sätze:\n\n" + TRANSCRIPT},
    {"user": "Résume cette discussion en une phrase :\n\n" + EMAIL_THREAD},
    {"user": "用三句话概括一下这个视频讲了什么：\n\n" + TRANSCRIPT},
    {"user": [txt("Summarize this for my boss, keep it under 100 words:"), txt(ARTICLE)]},
    {"user": "Key takeaways from this review? Bullet points please.\n\n" + REVIEW},
    {"user": PRESS_RELEASE + "\n\nCan you make this a lot shorter, like a tweet?"},
    {"user": "I don't have time to read all this. What does it say?\n\n" + LEGAL},
    "Give me a one-paragraph recap of what happened in the Cuban Missile Crisis.",
    "Can you summarize the main ideas of Adam Smith's The Wealth of Nations?",
    {
        "user": "Summarize the discussion above for someone who just joined.",
        "history": [
            ("user", "Should our team move standups to async updates in Slack?"),
            (
                "assistant",
                "Async updates save time and suit distributed teams, but you lose quick unblocking and some team cohesion.",
            ),
            ("user", "Half of us are in Berlin and half in Austin."),
            (
                "assistant",
                "With that time difference, async written updates plus one short weekly call is probably the best compromise.",
            ),
        ],
        "vary": False,
    },
    {"user": "Hazme un resumen corto de este hilo de correos:\n\n" + EMAIL_THREAD},
    {"user": "Riassumi questo testo in poche righe:\n\n" + FR_TEXT},
    {"user": "Краткое содержание, пожалуйста:\n\n" + ARTICLE},
    {"user": [txt("Please summarise what the speaker says in this recording."), audio()]},
    {"user": "Pull out the decisions that were made in this meeting. Nothing else.\n\n" + MEETING},
    "In a few bullet points, summarize the causes of the 2008 financial crisis.",
]

TRANSLATION: list[Entry] = [
    "Translate into French: 'The meeting has been moved to Thursday at 3pm. Please bring the updated figures.'",
    "How do you say 'where is the nearest pharmacy' in Spanish?",
    "Traduce al inglés: 'Me encantaría visitarte el próximo verano, pero todavía no sé si tendré vacaciones.'",
    "Traduis ce paragraphe en anglais s'il te plaît : « Nous avons bien reçu votre dossier et nous reviendrons vers vous dans les plus brefs délais. »",
    "Übersetze bitte ins Englische: 'Wir bedanken uns für Ihre Geduld und melden uns, sobald die Ware wieder verfügbar ist.'",
    "把这句话翻译成英文：我们下周一开会讨论新项目的预算。",
    "次の文を英語に訳してください：「明日は雨が降るかもしれないので、傘を持って行ったほうがいいです。」",
    "What does 'Schadenfreude' mean in English?",
    "What does 'carpe diem' mean in English?",
    "Can you put this into German for me? 'Please find attached the signed contract. Let me know if anything is missing.'",
    {
        "system": "You are a professional translator. Translate the user's text from Japanese into natural English, preserving the tone.",
        "user": "先日はお忙しいところお時間をいただき、誠にありがとうございました。ご提案いただいた内容について社内で検討し、来週中にご連絡いたします。",
    },
    "Translate the following email into formal Spanish:\n\nDear Mr. Ortega,\nThank you for your order. Unfortunately the blue model is out of stock until March. Would you like us to send the grey one instead, or wait for the restock?\nBest regards,\nKaren",
    "english to portuguese pls: thanks for the quick reply, I'll send the invoice tomorrow",
    "how would I say 'I'm allergic to peanuts' in japanese? need to show it at restaurants",
    "Render this little poem in Italian, keeping the rhyme if you can:\nThe kettle sings, the morning's grey,\nthe cat demands her breakfast tray.",
    "Translate this product description for our German Amazon listing: 'Our stainless steel bottle keeps drinks cold for 24 hours and hot for 12. Leak-proof lid, fits most cup holders.'",
    "Is 'Je suis plein' the right way to say 'I'm full' in French? My friend laughed at me.",
    "Translate 'good luck with your exam' into Korean, both the formal and the casual version.",
    "Can you translate my CV summary into Dutch? 'Experienced project manager with 8 years in logistics, fluent in English and German, certified PRINCE2 practitioner.'",
    "Translate this Russian text into English: 'Завтра мы поедем на дачу, если погода будет хорошей.'",
    "¿Cómo se dice 'pasar la aspiradora' en inglés?",
    "Comment dit-on 'I miss you' en allemand ?",
    "Wie sagt man 'Feierabend' auf Englisch? Gibt es überhaupt ein passendes Wort dafür?",
    "日本語に翻訳して: Thank you for your hard work this quarter. Let's keep it up!",
    "请把下面这段话翻译成日语：感谢您一直以来的支持，我们会继续努力提供更好的服务。",
    "Translate these subtitles into Brazilian Portuguese, keep the timestamps:\n\n1\n00:00:01,000 --> 00:00:03,500\nWhere were you last night?\n\n2\n00:00:04,000 --> 00:00:06,200\nI told you, I was at work.",
    "I need this in Arabic for a sign at our shop: 'Closed on Fridays. Open Saturday to Thursday, 9am to 6pm.'",
    "give me the english version of this: 'Vi ringraziamo per averci scelto e speriamo di rivedervi presto.'",
    "What's the Spanish word for 'stapler'?",
    "Translate to English and keep the markdown formatting:\n\n## Ingrédients\n- 200 g de farine\n- 3 œufs\n- 50 cl de lait\n- une pincée de sel",
    "Can you translate these app strings into French? 'Save', 'Cancel', 'Delete account', 'Are you sure? This cannot be undone.'",
    "This is a letter from my grandmother in Polish, can you tell me what it says in English? 'Kochana Wnusiu, bardzo się cieszę, że przyjedziesz na święta. Upiekę twoje ulubione ciasto.'",
    "What's 'thank you very much' in Thai?",
    {
        "user": "now do the same for this one: 'Nous vous remercions de votre confiance.'",
        "history": [
            ("user", "Translate into English: 'Votre commande a été expédiée.'"),
            ("assistant", '"Your order has been shipped."'),
        ],
        "vary": False,
    },
    "Traduza para o inglês: 'Estou procurando um apartamento com dois quartos perto do metrô.'",
    "Traduci in spagnolo: 'Il treno per Milano è in ritardo di venti minuti.'",
    "Переведи на английский: 'Спасибо за приглашение, но, к сожалению, я не смогу прийти.'",
    "영어로 번역해 주세요: 오늘 회의는 오후 네 시로 변경되었습니다.",
    "How do you say 'cheers' in Czech, and how do I pronounce it?",
    "Translate this into simplified Chinese for my WeChat post: 'Just finished my first marathon! Thanks everyone for the support.'",
    "Can you translate this German error message for me? 'Die Datei konnte nicht gespeichert werden, da nicht genügend Speicherplatz vorhanden ist.'",
    "Please provide a French translation of our cookie banner: 'We use cookies to improve your experience. You can change your preferences at any time.'",
    "Help me say this in German without sounding rude: 'Could you please turn the music down after 10pm?'",
    "Mein Kollege hat mir das auf Spanisch geschickt, was heißt das? 'Nos vemos mañana en la oficina a las nueve.'",
    "Que veut dire 'it's raining cats and dogs' en français ?",
    "Translate literally and then idiomatically: 'tomar el pelo'",
    {"user": "Translate into English:\n\n" + ES_ARTICLE},
    {
        "user": "Put this into English please, it's for a colleague who doesn't speak German:\n\n"
        + DE_TEXT
    },
    {"user": "Traduce este texto al inglés, por favor:\n\n" + FR_TEXT},
    "How do I say 'I'd like the bill, please' in Greek?",
    "Translate my dating profile into Spanish, but make it sound natural, not like Google Translate: 'Coffee snob, bad at karaoke, will beat you at Mario Kart.'",
    "What does 'ちょっと待って' mean?",
    "这句话用法语怎么说：祝你生日快乐，万事如意！",
    "Könntest du den folgenden Absatz ins Französische übertragen? 'Unser Büro bleibt zwischen Weihnachten und Neujahr geschlossen. In dringenden Fällen erreichen Sie uns per E-Mail.'",
    "Necesito esto en alemán para un correo al cliente: 'Le enviamos la factura corregida. Disculpe las molestias.'",
    "Translate from Hindi to English: 'मुझे कल सुबह जल्दी उठना है।'",
    "Quick — what's 'on my way' in Portuguese?",
    "Write this sentence in formal Japanese: 'We apologize for the delay in shipping your order.'",
    "I'm writing to a Swedish client. Can you translate: 'Thank you for your order, it will ship on Monday.'",
    {
        "system": "You translate everything the user writes into English. Output only the translation.",
        "user": "Hola, quería saber si todavía tienen habitaciones libres para el fin de semana del 14.",
    },
    {
        "system": "Du bist ein Übersetzer für Deutsch und Englisch.",
        "user": "The invoice is attached. Payment is due within 14 days.",
    },
    "Translate the menu items into English: croque monsieur, blanquette de veau, île flottante.",
    {"user": [txt("Can you translate what she's saying in this clip into English?"), audio()]},
    "What does 'mamihlapinatapai' mean?",
    "How would you translate 'hygge' into English? Is there even a real equivalent?",
]

IMAGE_INPUT: list[tuple[str, int]] = [
    ("What's in this picture?", 1),
    ("Can you read the items on this receipt and add up the total?", 1),
    ("Is this mushroom safe to eat? Found it in my garden.", 1),
    ("Describe this chart and tell me the main trend.", 1),
    ("What breed is my dog?", 1),
    ("Transcribe the handwriting in this photo please.", 1),
    ("What's wrong with my code in this screenshot? It throws on line 12.", 1),
    ("Translate the sign in this photo into English.", 1),
    ("Summarize this slide in two sentences.", 1),
    ("Solve the maths problem in this image, step by step.", 1),
    ("¿Qué planta es esta y cómo la cuido?", 1),
    ("Qu'est-ce qui ne va pas avec ma plante ? Les feuilles jaunissent.", 1),
    ("Was steht auf diesem Schild?", 1),
    ("这张图片里有什么？", 1),
    ("この写真はどこで撮られたと思いますか？", 1),
    ("Which of these two sofas would fit better in a small living room?", 2),
    ("", 1),
    ("Write alt text for this image for our website.", 1),
    ("rate my outfit 1-10 honestly", 1),
    ("Turn this hand-drawn wireframe into HTML and CSS.", 1),
    ("What does this error dialog mean and how do I get rid of it?", 1),
    ("How many people are in this photo?", 1),
    ("Is this text message a scam? They say it's from my bank.", 1),
    ("Roughly how many calories are in this meal?", 1),
    ("What bird is this? Seen in Norfolk this morning.", 1),
    ("Extract the table from this scanned page as CSV.", 1),
    ("Which floor plan works better for a family with two kids?", 2),
    ("Compare these three logos and tell me which is most readable at small sizes.", 3),
    ("Can you remove the background from this photo and make it white?", 1),
    ("Is this rash something I should see a doctor about?", 1),
    ("Welche Automarke ist das?", 1),
    ("Что написано на этой упаковке?", 1),
    ("이 그래프를 설명해 주세요.", 1),
    ("Dimmi cosa c'è di sbagliato in questo circuito.", 1),
    ("Make this photo look like a Van Gogh painting.", 1),
]

IMAGE_GEN: list[Entry] = [
    "Generate an image of a cozy log cabin in a snowy forest at night, warm light glowing in the windows.",
    "Draw me a cartoon cat wearing a spacesuit.",
    "Create a logo for my bakery called 'Rise & Shine' — minimal, warm colors.",
    "Make a picture of a futuristic Tokyo street in the rain, cyberpunk style.",
    "Can you paint a watercolor of a lighthouse at sunset?",
    "I need an illustration for a children's book: a shy hedgehog meeting a friendly fox in the woods.",
    "Generate a photorealistic product shot of a matte black water bottle on a marble table.",
    "Design a poster for a jazz night this Friday, art deco style.",
    "Render a 3D isometric view of a tiny island with a cottage and a windmill.",
    "dibuja un perro astronauta en estilo anime",
    "Génère une image d'un chat qui lit un livre dans un café parisien.",
    "Erstelle ein Bild von einem Fuchs im Herbstwald, im Aquarellstil.",
    "画一只在月亮上钓鱼的熊猫",
    "富士山と桜のイラストを描いてください",
    "Make me a phone wallpaper: abstract waves in teal and gold.",
    "Create an image of a medieval knight eating pizza in a tavern.",
    "Can you generate a profile picture of a friendly robot with headphones, flat vector style?",
    "Draw a map of a fantasy kingdom with mountains in the north and a big lake in the middle.",
    "Give me an image of a golden retriever surfing a huge wave.",
    "Sketch a minimalist tattoo design: a mountain range inside a circle.",
    "Generate a banner for my YouTube channel about home cooking, 2560x1440.",
    "Produce a single comic panel: a coffee cup complaining that it's only Monday.",
    "Could you create a picture of my dream kitchen? White cabinets, wooden countertops, lots of plants.",
    "Make an image showing the water cycle for a 5th grade classroom poster.",
    "Crea un'immagine di una Vespa rossa davanti al Colosseo.",
    "Gere uma imagem de uma praia tropical ao pôr do sol.",
    "Нарисуй кота в космосе.",
    "photo of an astronaut riding a horse on the moon, 35mm, golden hour, film grain",
    "A watercolor painting of a quiet harbor at dawn, soft pastel tones, highly detailed",
    "Generate 4 variations of an app icon for a meditation app.",
    "isometric pixel art of a cozy gaming room with neon lights, 8-bit",
    "Paint me a portrait of my grandmother as a Renaissance noblewoman.",
    "Crea una imagen de una ciudad flotante entre las nubes al atardecer.",
    "Dessine un dragon qui fait griller des marshmallows.",
    "Zeichne ein Einhorn, das Skateboard fährt.",
    "生成一张赛博朋克风格的上海夜景图片",
    "Can you make a birthday card picture with balloons and a cake that says 'Happy 7th, Leo'?",
    {
        "system": "You are an AI art assistant.",
        "user": "a red fox sleeping in a snowy field, soft light, shallow depth of field",
    },
    {
        "user": "Now make the same scene but at night with the northern lights.",
        "history": [
            ("user", "Generate an image of a wooden cabin by a frozen lake."),
            ("assistant", "Here's your image of a wooden cabin by a frozen lake."),
        ],
        "vary": False,
    },
]

# Agent scenarios: a tool set, the user's ask, one or two (tool call, tool result) rounds.


def tool(
    name: str, description: str, params: dict[str, tuple[str, str]], required: list[str]
) -> dict[str, Any]:
    """An OpenAI ``tools`` entry with a JSON-schema object of string/number parameters."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": t, "description": d} for k, (t, d) in params.items()},
                "required": required,
            },
        },
    }


TOOLSETS: dict[str, list[dict[str, Any]]] = {
    "weather": [
        tool(
            "get_weather",
            "Current weather and forecast for a city.",
            {"city": ("string", "City name"), "date": ("string", "ISO date, optional")},
            ["city"],
        )
    ],
    "search": [
        tool(
            "search_web",
            "Search the web and return the top results.",
            {"query": ("string", "Search query")},
            ["query"],
        ),
        tool(
            "fetch_url",
            "Fetch a web page and return its text.",
            {"url": ("string", "Absolute URL")},
            ["url"],
        ),
    ],
    "orders": [
        tool(
            "lookup_order",
            "Look up an order by its id.",
            {"order_id": ("string", "Order id")},
            ["order_id"],
        ),
        tool(
            "create_return",
            "Start a return for an order line.",
            {
                "order_id": ("string", "Order id"),
                "sku": ("string", "Item SKU"),
                "reason": ("string", "Reason"),
            },
            ["order_id", "sku"],
        ),
    ],
    "calendar": [
        tool(
            "find_free_slots",
            "Find free slots shared by attendees.",
            {"attendees": ("array", "E-mail addresses"), "duration_min": ("integer", "Length")},
            ["attendees"],
        ),
        tool(
            "create_event",
            "Create a calendar event.",
            {
                "title": ("string", "Title"),
                "start": ("string", "ISO datetime"),
                "end": ("string", "ISO datetime"),
                "attendees": ("array", "E-mails"),
            },
            ["title", "start", "end"],
        ),
    ],
    "email": [
        tool(
            "send_email",
            "Send an e-mail from the user's account.",
            {
                "to": ("string", "Recipients"),
                "subject": ("string", "Subject"),
                "body": ("string", "Body"),
            },
            ["to", "subject", "body"],
        ),
        tool(
            "list_contacts",
            "List the user's contacts matching a name.",
            {"name": ("string", "Name or part")},
            ["name"],
        ),
    ],
    "sql": [
        tool(
            "run_sql",
            "Run a read-only SQL query on the analytics warehouse.",
            {"query": ("string", "SQL")},
            ["query"],
        ),
        tool(
            "describe_table", "Columns of a table.", {"table": ("string", "Table name")}, ["table"]
        ),
    ],
    "python": [
        tool(
            "run_python",
            "Execute Python code in a sandbox and return stdout.",
            {"code": ("string", "Python source")},
            ["code"],
        )
    ],
    "files": [
        tool(
            "read_file", "Read a file from the repository.", {"path": ("string", "Path")}, ["path"]
        ),
        tool(
            "write_file",
            "Overwrite a file in the repository.",
            {"path": ("string", "Path"), "content": ("string", "New content")},
            ["path", "content"],
        ),
        tool(
            "run_tests",
            "Run the test suite, optionally one file.",
            {"target": ("string", "Test path")},
            [],
        ),
    ],
    "flights": [
        tool(
            "search_flights",
            "Search flights.",
            {
                "origin": ("string", "IATA code"),
                "destination": ("string", "IATA code"),
                "date": ("string", "ISO date"),
            },
            ["origin", "destination", "date"],
        ),
        tool(
            "book_flight",
            "Book a flight offer.",
            {"offer_id": ("string", "Offer id")},
            ["offer_id"],
        ),
    ],
    "stocks": [
        tool(
            "get_stock_price",
            "Latest price and daily change for a ticker.",
            {"ticker": ("string", "Ticker symbol")},
            ["ticker"],
        )
    ],
    "currency": [
        tool(
            "convert_currency",
            "Convert an amount at today's rate.",
            {
                "amount": ("number", "Amount"),
                "from": ("string", "ISO code"),
                "to": ("string", "ISO code"),
            },
            ["amount", "from", "to"],
        )
    ],
    "home": [
        tool(
            "set_thermostat",
            "Set the target temperature of a room.",
            {"room": ("string", "Room"), "celsius": ("number", "Target")},
            ["room", "celsius"],
        ),
        tool(
            "set_lights",
            "Turn lights on or off.",
            {"room": ("string", "Room"), "on": ("boolean", "On or off")},
            ["room", "on"],
        ),
    ],
    "tickets": [
        tool(
            "create_ticket",
            "Create an issue in the tracker.",
            {
                "summary": ("string", "One-line summary"),
                "description": ("string", "Details"),
                "priority": ("string", "low|medium|high"),
            },
            ["summary"],
        )
    ],
    "translate": [
        tool(
            "translate_text",
            "Translate text with the company glossary.",
            {"text": ("string", "Text"), "target_lang": ("string", "Target language code")},
            ["text", "target_lang"],
        )
    ],
    "imagegen": [
        tool(
            "generate_image",
            "Generate an image from a prompt.",
            {"prompt": ("string", "Prompt"), "size": ("string", "e.g. 1024x1024")},
            ["prompt"],
        )
    ],
    "maps": [
        tool(
            "get_directions",
            "Directions between two places.",
            {
                "origin": ("string", "From"),
                "destination": ("string", "To"),
                "mode": ("string", "walking|driving|transit"),
            },
            ["origin", "destination"],
        )
    ],
    "crm": [
        tool("search_contacts", "Find CRM contacts.", {"name": ("string", "Name")}, ["name"]),
        tool(
            "update_contact",
            "Update a CRM contact field.",
            {
                "contact_id": ("string", "Id"),
                "field": ("string", "Field"),
                "value": ("string", "Value"),
            },
            ["contact_id", "field", "value"],
        ),
    ],
    "restaurant": [
        tool(
            "book_table",
            "Reserve a table.",
            {
                "restaurant": ("string", "Name"),
                "datetime": ("string", "ISO datetime"),
                "party_size": ("integer", "People"),
            },
            ["restaurant", "datetime", "party_size"],
        )
    ],
    "news": [
        tool(
            "get_news",
            "Latest news headlines for a topic.",
            {"topic": ("string", "Topic"), "lang": ("string", "Language code")},
            ["topic"],
        )
    ],
    "parcel": [
        tool(
            "track_package",
            "Track a parcel.",
            {"tracking_number": ("string", "Tracking number")},
            ["tracking_number"],
        )
    ],
    "calc": [
        tool(
            "calculate",
            "Evaluate an arithmetic expression exactly.",
            {"expression": ("string", "Expression")},
            ["expression"],
        )
    ],
    "docs": [
        tool(
            "search_docs",
            "Search the help-centre articles.",
            {"query": ("string", "Query")},
            ["query"],
        )
    ],
    "github": [
        tool(
            "list_pull_requests",
            "List pull requests.",
            {"repo": ("string", "owner/name"), "state": ("string", "open|closed")},
            ["repo"],
        ),
        tool(
            "get_ci_status",
            "CI status of a pull request.",
            {"repo": ("string", "owner/name"), "number": ("integer", "PR number")},
            ["repo", "number"],
        ),
        tool(
            "merge_pull_request",
            "Merge a pull request.",
            {"repo": ("string", "owner/name"), "number": ("integer", "PR number")},
            ["repo", "number"],
        ),
    ],
}

# (toolset, user ask, [(function name, arguments, tool result), ...])
AGENT_SCENARIOS: list[tuple[str, str, list[tuple[str, dict[str, Any], str]]]] = [
    (
        "weather",
        "What's the weather going to be like in Lisbon tomorrow? Do I need an umbrella?",
        [
            (
                "get_weather",
                {"city": "Lisbon", "date": "2025-05-03"},
                '{"city": "Lisbon", "date": "2025-05-03", "summary": "light rain in the afternoon", "high_c": 19, "low_c": 13, "precip_prob": 0.7}',
            )
        ],
    ),
    (
        "search",
        "Who won the Champions League final last night?",
        [
            (
                "search_web",
                {"query": "Champions League final result"},
                '{"results": [{"title": "Final report: late winner settles it", "url": "https://news.example.com/ucl-final", "snippet": "A stoppage-time header decided the final 2-1..."}]}',
            )
        ],
    ),
    (
        "orders",
        "Where's my order 88412? It says shipped a week ago but nothing arrived.",
        [
            (
                "lookup_order",
                {"order_id": "88412"},
                '{"order_id": "88412", "status": "in_transit", "carrier": "DHL", "last_scan": "2025-04-29 Leipzig hub", "eta": "2025-05-05"}',
            )
        ],
    ),
    (
        "calendar",
        "Set up a 30 minute call with priya@acme.io and marco@acme.io sometime next Tuesday morning.",
        [
            (
                "find_free_slots",
                {"attendees": ["priya@acme.io", "marco@acme.io"], "duration_min": 30},
                '{"slots": ["2025-05-06T09:30:00", "2025-05-06T11:00:00"]}',
            ),
            (
                "create_event",
                {
                    "title": "Sync",
                    "start": "2025-05-06T09:30:00",
                    "end": "2025-05-06T10:00:00",
                    "attendees": ["priya@acme.io", "marco@acme.io"],
                },
                '{"event_id": "ev_5521", "status": "created"}',
            ),
        ],
    ),
    (
        "email",
        "Email the team that the offsite is moved to the 14th, same venue.",
        [
            (
                "list_contacts",
                {"name": "team"},
                '{"contacts": [{"name": "Product Team", "email": "product-team@acme.io"}]}',
            ),
            (
                "send_email",
                {
                    "to": "product-team@acme.io",
                    "subject": "Offsite moved to the 14th",
                    "body": "Hi all, the offsite is moving to the 14th. Same venue.",
                },
                '{"status": "sent", "message_id": "m-9912"}',
            ),
        ],
    ),
    (
        "sql",
        "How many users signed up last week, split by country?",
        [
            (
                "describe_table",
                {"table": "users"},
                '{"columns": ["id", "created_at", "country", "plan"]}',
            ),
            (
                "run_sql",
                {
                    "query": "SELECT country, count(*) FROM users WHERE created_at >= now() - interval '7 days' GROUP BY 1 ORDER BY 2 DESC"
                },
                '{"rows": [["DE", 412], ["US", 388], ["FR", 120]]}',
            ),
        ],
    ),
    (
        "python",
        "What's the median and standard deviation of these values: 3, 7, 7, 2, 9, 12, 4?",
        [
            (
                "run_python",
                {
                    "code": "import statistics as s\nv=[3,7,7,2,9,12,4]\nprint(s.median(v), s.stdev(v))"
                },
                "7 3.5050983005...",
            )
        ],
    ),
    (
        "files",
        "The test in tests/test_auth.py is failing since yesterday, can you fix it?",
        [
            (
                "run_tests",
                {"target": "tests/test_auth.py"},
                "FAILED tests/test_auth.py::test_login_expired - AssertionError: assert 200 == 401",
            ),
            (
                "read_file",
                {"path": "app/auth.py"},
                "def check_token(token):\n    if token.expires_at < now():\n        return True\n    return verify(token)",
            ),
        ],
    ),
    (
        "flights",
        "Find me a flight from Berlin to Madrid on the 3rd, morning if possible.",
        [
            (
                "search_flights",
                {"origin": "BER", "destination": "MAD", "date": "2025-06-03"},
                '{"offers": [{"id": "of_1", "depart": "07:10", "arrive": "10:05", "price_eur": 89}, {"id": "of_2", "depart": "11:45", "arrive": "14:40", "price_eur": 64}]}',
            )
        ],
    ),
    (
        "stocks",
        "How's Apple stock doing today?",
        [
            (
                "get_stock_price",
                {"ticker": "AAPL"},
                '{"ticker": "AAPL", "price": 187.42, "change_pct": -1.3}',
            )
        ],
    ),
    (
        "currency",
        "How much is 250 dollars in yen right now?",
        [
            (
                "convert_currency",
                {"amount": 250, "from": "USD", "to": "JPY"},
                '{"amount": 38712.5, "rate": 154.85}',
            )
        ],
    ),
    (
        "home",
        "It's freezing in here, can you warm up the living room and turn the lights on?",
        [
            ("set_thermostat", {"room": "living room", "celsius": 22}, '{"ok": true}'),
            ("set_lights", {"room": "living room", "on": True}, '{"ok": true}'),
        ],
    ),
    (
        "tickets",
        "Log a bug: the export button does nothing on Safari 17, high priority.",
        [
            (
                "create_ticket",
                {
                    "summary": "Export button does nothing on Safari 17",
                    "description": "Clicking Export on the reports page has no effect in Safari 17.",
                    "priority": "high",
                },
                '{"key": "WEB-2231", "url": "https://tracker.example.com/WEB-2231"}',
            )
        ],
    ),
    (
        "translate",
        "Translate 'see you at the conference tomorrow' into Italian.",
        [
            (
                "translate_text",
                {"text": "see you at the conference tomorrow", "target_lang": "it"},
                '{"translation": "ci vediamo domani alla conferenza"}',
            )
        ],
    ),
    (
        "imagegen",
        "Draw a cat astronaut floating past Saturn.",
        [
            (
                "generate_image",
                {
                    "prompt": "a cat astronaut floating past Saturn, digital art",
                    "size": "1024x1024",
                },
                '{"url": "https://img.example.com/gen/ab12.png"}',
            )
        ],
    ),
    (
        "maps",
        "How do I get from the Louvre to the Eiffel Tower on foot?",
        [
            (
                "get_directions",
                {"origin": "Louvre Museum", "destination": "Eiffel Tower", "mode": "walking"},
                '{"duration_min": 42, "distance_km": 3.4, "steps": ["Head west along the Seine on Quai François Mitterrand", "Cross at Pont de l\'Alma"]}',
            )
        ],
    ),
    (
        "crm",
        "Update Anna Schmidt's phone number to +49 151 2345 678.",
        [
            (
                "search_contacts",
                {"name": "Anna Schmidt"},
                '{"contacts": [{"id": "c_77", "name": "Anna Schmidt", "company": "Nordlicht GmbH"}]}',
            ),
            (
                "update_contact",
                {"contact_id": "c_77", "field": "phone", "value": "+49 151 2345 678"},
                '{"ok": true}',
            ),
        ],
    ),
    (
        "restaurant",
        "Reserva una mesa para cuatro en La Tasca el viernes a las nueve de la noche.",
        [
            (
                "book_table",
                {"restaurant": "La Tasca", "datetime": "2025-05-09T21:00:00", "party_size": 4},
                '{"confirmation": "LT-4471", "status": "confirmed"}',
            )
        ],
    ),
    (
        "news",
        "Quelles sont les dernières nouvelles sur la réforme des retraites ?",
        [
            (
                "get_news",
                {"topic": "réforme des retraites", "lang": "fr"},
                '{"headlines": ["Le Sénat adopte le texte en première lecture", "Les syndicats appellent à une nouvelle journée de mobilisation"]}',
            )
        ],
    ),
    (
        "parcel",
        "Wo ist mein Paket? Sendungsnummer 00340434161234567890",
        [
            (
                "track_package",
                {"tracking_number": "00340434161234567890"},
                '{"status": "Zustellung heute", "location": "Zustellbasis Köln"}',
            )
        ],
    ),
    (
        "calc",
        "What's a 15% tip on 86.40, split three ways?",
        [("calculate", {"expression": "86.40 * 1.15 / 3"}, "33.12")],
    ),
    (
        "search",
        "Summarize this article for me: https://news.example.com/2025/05/city-budget-vote",
        [
            (
                "fetch_url",
                {"url": "https://news.example.com/2025/05/city-budget-vote"},
                "City Budget Vote Delayed Again. The council postponed the vote on next year's budget after a dispute over transit funding...",
            )
        ],
    ),
    (
        "docs",
        "How do I reset my two-factor authentication? I lost my phone.",
        [
            (
                "search_docs",
                {"query": "reset two-factor authentication lost phone"},
                '{"articles": [{"title": "Recover your account without your 2FA device", "url": "https://help.example.com/2fa-recovery"}]}',
            )
        ],
    ),
    (
        "github",
        "Merge PR 231 in acme/webapp if CI is green.",
        [
            (
                "get_ci_status",
                {"repo": "acme/webapp", "number": 231},
                '{"state": "success", "checks": 14}',
            ),
            (
                "merge_pull_request",
                {"repo": "acme/webapp", "number": 231},
                '{"merged": true, "sha": "9f2c1e4"}',
            ),
        ],
    ),
    (
        "weather",
        "帮我查一下明天上海的天气，要不要带伞？",
        [
            (
                "get_weather",
                {"city": "Shanghai", "date": "2025-05-03"},
                '{"city": "Shanghai", "summary": "多云转小雨", "high_c": 24, "low_c": 18, "precip_prob": 0.6}',
            )
        ],
    ),
    (
        "calendar",
        "明日の午後3時に歯医者の予約を入れておいて。",
        [
            (
                "create_event",
                {
                    "title": "歯医者",
                    "start": "2025-05-03T15:00:00",
                    "end": "2025-05-03T16:00:00",
                    "attendees": [],
                },
                '{"event_id": "ev_88", "status": "created"}',
            )
        ],
    ),
    (
        "sql",
        "Write a query for the monthly revenue of the last year and run it.",
        [
            (
                "run_sql",
                {
                    "query": "SELECT date_trunc('month', paid_at) m, sum(amount) FROM payments WHERE paid_at > now() - interval '1 year' GROUP BY 1 ORDER BY 1"
                },
                '{"rows": [["2024-06-01", 118220.5], ["2024-07-01", 121004.0]]}',
            )
        ],
    ),
]


def tool_call_id(i: int, j: int) -> str:
    return f"call_{i:02d}{j}{'abcdefghij'[(i + j) % 10]}Xq7"


def agent_bodies() -> list[dict[str, Any]]:
    """Three shapes per scenario: the first ask, mid-loop after a tool result, and finished."""
    out: list[dict[str, Any]] = []
    for i, (toolset, ask, rounds) in enumerate(AGENT_SCENARIOS):
        tools = TOOLSETS[toolset]
        system = {
            "role": "system",
            "content": "You are an assistant that can use tools. Call a tool when you need live data or to act for the user.",
        }
        first: list[dict[str, Any]] = [{"role": "user", "content": ask}]
        if i % 3 == 0:
            first.insert(0, system)
        # 1) the user has asked; tools are on offer.
        out.append({"messages": list(first), "tools": tools})
        # 2) one or more tool rounds; the last message is a tool result.
        msgs = list(first)
        for j, (name, args, result) in enumerate(rounds):
            cid = tool_call_id(i, j)
            msgs.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": cid,
                            "type": "function",
                            "function": {
                                "name": name,
                                "arguments": json.dumps(args, ensure_ascii=False),
                            },
                        }
                    ],
                }
            )
            msgs.append({"role": "tool", "tool_call_id": cid, "content": result})
        body: dict[str, Any] = {"messages": list(msgs), "tools": tools}
        if i % 7 == 3:
            del body["tools"]  # some clients drop `tools` on the follow-up call
        if i % 5 == 1:
            body["tool_choice"] = "auto"
        out.append(body)
        # 3) every other scenario: the answer came back and the user follows up, tools still on.
        if i % 2 == 0:
            follow = [
                *msgs,
                {"role": "assistant", "content": "Done — here's what I found."},
                {"role": "user", "content": FOLLOW_UPS[i % len(FOLLOW_UPS)]},
            ]
            out.append({"messages": follow, "tools": tools, "parallel_tool_calls": False})
    # Legacy `functions` / `function` role, still sent by older SDKs.
    legacy_fn = TOOLSETS["weather"][0]["function"]
    out.append(
        {
            "messages": [
                {"role": "user", "content": "Is it going to snow in Denver this weekend?"}
            ],
            "functions": [legacy_fn],
        }
    )
    out.append(
        {
            "messages": [
                {"role": "user", "content": "Is it going to snow in Denver this weekend?"},
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {
                        "name": "get_weather",
                        "arguments": '{"city": "Denver", "date": "2025-05-03"}',
                    },
                },
                {
                    "role": "function",
                    "name": "get_weather",
                    "content": '{"summary": "snow showers Saturday", "high_c": 2}',
                },
            ],
            "functions": [legacy_fn],
        }
    )
    # Parallel tool calls answered in one go.
    out.append(
        {
            "messages": [
                {"role": "user", "content": "Compare the weather in Oslo and Rome for tomorrow."},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_par1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                        },
                        {
                            "id": "call_par2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                        },
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_par1",
                    "content": '{"summary": "cloudy", "high_c": 9}',
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_par2",
                    "content": '{"summary": "sunny", "high_c": 24}',
                },
            ],
            "tools": TOOLSETS["weather"],
        }
    )
    # Agent frameworks often send a long system prompt and a terse user turn.
    out.append(
        {
            "messages": [
                {
                    "role": "system",
                    "content": "You are DevBot, an autonomous coding agent. You work in a sandboxed repository. Think about which file to inspect, use the tools to read and edit files, and run the tests before you finish. Never ask the user for confirmation.",
                },
                {"role": "user", "content": "Add a --verbose flag to the CLI."},
            ],
            "tools": TOOLSETS["files"],
            "tool_choice": "required",
        }
    )
    out.append(
        {
            "messages": [
                {"role": "user", "content": "Can you explain how photosynthesis works?"},
            ],
            "tools": TOOLSETS["search"],
        }
    )
    out.append(
        {
            "messages": [
                {
                    "role": "user",
                    "content": "Translate our refund policy page into German: https://shop.example.com/refunds",
                },
            ],
            "tools": TOOLSETS["search"] + TOOLSETS["translate"],
        }
    )
    return out


FOLLOW_UPS = [
    "Great, and what about the day after?",
    "ok do it",
    "Thanks. Can you also send that to my manager?",
    "Now check the same thing for last month.",
    "Perfect, book the cheaper one.",
    "And in euros?",
    "hmm, try again with a different query",
]

# ---------------------------------------------------------------------------------------
# Held-out rows: written after the classifier was first tuned on the rows above, and run
# through it once, untuned, to get an honest figure. They carry "split": "holdout".
# ---------------------------------------------------------------------------------------

H_BLOG = """A year ago I decided to get rid of half of everything I owned. Not in a dramatic, sell-the-house way — I just went room by room and asked of every object whether I had used it in the last twelve months. The kitchen was the easiest: three spatulas became one, the bread maker went to a friend, and the drawer of mystery cables finally met the recycling centre.

What surprised me was not how much space I gained but how much time. Cleaning takes half as long. I no longer spend Saturday mornings looking for things. And because I buy less, I think harder about what I do buy, which means I mostly buy things that last.

It hasn't all been easy. I gave away a guitar I hadn't touched in years and regretted it within a month. My partner is not a convert and our shared closet is a negotiated border. But if you're curious, start with one drawer. You'll know within a week whether it's for you."""

H_NOTES = """Standup notes — Tue
- Ravi: finished the invoice export, waiting on review. Blocked by flaky staging DB.
- Mei: onboarding emails drafted, needs copy sign-off from marketing by Thu.
- Tom: on-call was quiet; fixed alert thresholds for disk usage.
- Ana: customer interviews 3/5 done, early theme is that the pricing page is confusing.
- Decisions: move the release to next Wednesday; Ravi and Tom pair on the staging DB tomorrow.
- Risks: marketing availability this week, staging stability."""

H_ES = """El ayuntamiento ha anunciado que a partir de septiembre el transporte público será gratuito para los menores de dieciocho años. La medida, que costará unos cuatro millones de euros al año, busca reducir el uso del coche en los trayectos escolares y aliviar el gasto de las familias. La oposición critica que no se haya presentado un estudio sobre el impacto en la frecuencia de los autobuses, que ya van llenos en hora punta. Los primeros abonos podrán solicitarse en línea a partir del 15 de agosto."""

H_PAPER = """Abstract. Large language models are increasingly deployed behind routers that pick a model per request, yet little is known about how routing decisions affect answer quality across task types. We collect 12,000 real user requests, label each with one of seven task categories, and compare three routing policies: always-premium, cheapest-first with escalation, and a learned quality predictor. The learned router matches the premium model's quality on 94% of requests while cutting cost by 61%. Gains are largest for summarization and translation and smallest for multi-step reasoning, where cheap models fail silently. We release the labelled dataset and an evaluation harness."""

H_EMAIL = """Hi Sam,
Just a heads-up that the venue for Friday's workshop has changed: we're now in Room 4B on the fourth floor, not the main hall, because of a double booking. Lunch will still be served at 12:30, but it'll be sandwiches instead of the hot buffet. Please bring your laptop charged — there are only a few power outlets in 4B. If you have dietary requirements you haven't told us about yet, reply by Wednesday noon.
Thanks,
Priya"""

H_CALL = """Host: Thanks for joining the Q3 call. Revenue came in at 4.2 million, up 8% on last quarter.
CFO: Most of the growth came from the enterprise tier; self-serve was flat.
Host: Churn?
CFO: Down to 2.1% monthly from 2.6%. The onboarding changes helped.
Host: And hiring?
COO: We paused hiring in sales until we see the Q4 pipeline, but we're still hiring two support engineers.
Host: Any risks?
CFO: Currency. About a third of revenue is in euros and the exchange rate has moved against us."""

HOLDOUT: dict[str, list[Entry]] = {
    "chat": [
        "My neighbour's dog barks all night. How do I bring it up without starting a feud?",
        "Can you suggest a 3-day itinerary for Kyoto in autumn?",
        "What's the healthiest way to lose 5 kg before summer?",
        "Write a short poem for my mom's 60th birthday, something funny but sweet.",
        "Is it rude to leave a party without saying goodbye?",
        "Explain the difference between a Roth IRA and a traditional IRA.",
        "I just got dumped. Can we talk for a bit?",
        "Quels sont les avantages de vivre à la campagne plutôt qu'en ville ?",
        "¿Qué puedo regalarle a mi novio? Le encanta la fotografía.",
        "Welche Pflanzen kann ich im Winter auf dem Balkon lassen?",
        "日本の夏におすすめの旅行先はどこですか？",
        "How does a heat pump work, in simple terms?",
        "Give me a motivational quote to start my day.",
        "What are the rules of pickleball?",
        "Can you help me come up with a name for my podcast about gardening?",
        "Does more sleep actually translate into better grades for teenagers?",
        "Tell me something interesting about octopuses.",
        "What's a good comeback when someone says I'm too quiet at work?",
        "Write a product description for handmade soy candles that smell like pine.",
        "How do I make my sourdough starter more active?",
        "Why do I get headaches when I skip coffee?",
        "I have an interview for a project manager role tomorrow. What questions should I expect?",
    ],
    "coding": [
        "How do I reverse a string in Rust?",
        "What's the difference between `git merge` and `git rebase`?",
        "My Flask app returns 500 only in production. Where should I look first?",
        "Write a Python function that merges two sorted lists.",
        "Explain what a foreign key is in a relational database.",
        "npm ERR! code ERESOLVE unable to resolve dependency tree — how do I fix this?",
        "Why is my useState value stale inside setInterval?",
        "Convert this to async/await:\n\nfetch(url).then(r => r.json()).then(data => console.log(data)).catch(err => console.error(err));",
        "What are generics in Java and why would I use them?",
        "¿Cómo puedo hacer un bucle for en Python que recorra un diccionario?",
        "Comment déclarer une constante en C ?",
        "Was ist der Unterschied zwischen einer abstrakten Klasse und einem Interface in Java?",
        "如何在JavaScript中深拷贝一个对象？",
        "Write a shell script that backs up /var/www to S3 every night.",
        "Is MongoDB a good choice for storing financial transactions?",
        "Explain Big O notation with everyday examples.",
        "How do I handle a KeyError when a dictionary key might be missing?",
        "Summarize what this SQL does: SELECT d.name, AVG(e.salary) FROM employees e JOIN departments d ON e.dept_id = d.id GROUP BY d.name HAVING AVG(e.salary) > 50000;",
        "What's the best way to store passwords in a database?",
        "My unit tests pass locally but fail on CI. What could be different?",
        "How can I speed up my Docker builds?",
        "Write a CSS animation that makes a button pulse.",
    ],
    "reasoning": [
        "If a car travels at 80 km/h for 2.5 hours, how far does it go?",
        "A recipe needs 3 eggs for 12 cookies. How many eggs do I need for 30 cookies?",
        "What is 15% of 240?",
        "Prove that the sum of two odd numbers is even.",
        "Solve x^2 - 5x + 6 = 0.",
        "I'm thinking of a number. If you double it and subtract seven you get fifteen. What is it?",
        "There are 12 socks in a drawer, 6 black and 6 white. How many must I pull out in the dark to be sure of a matching pair?",
        "If John is taller than Mike and Mike is taller than Sara, who is the shortest?",
        "What is the probability of drawing two aces in a row from a deck without replacement?",
        "A tank holds 500 litres and leaks 2% of its water every hour. How much is left after 5 hours?",
        "Three friends pay $30 for a room. The clerk refunds $5, the bellboy keeps $2 and gives each friend $1 back. Now each paid $9, that's $27, plus the bellboy's $2 makes $29. Where did the missing dollar go?",
        "¿Cuántos minutos hay en una semana?",
        "Un père a 36 ans et son fils 6 ans. Dans combien d'années le père aura-t-il le triple de l'âge de son fils ?",
        "Ein Rechteck hat eine Fläche von 48 m² und eine Seite von 6 m. Wie lang ist die andere Seite?",
        "小明有15个苹果，给了小红三分之一，还剩多少个？",
        "Is 2^31 - 1 a prime?",
        "Arrange from smallest to largest: 0.5, 3/8, 0.45, 2/5.",
        "Two trains are 200 km apart and move toward each other at 60 and 40 km/h. When do they meet?",
        "Find all integers n such that n^2 + n is divisible by 6.",
        "Logic puzzle: Alice says Bob is lying. Bob says Carol is lying. Carol says both Alice and Bob are lying. Who is telling the truth?",
        "How many squares are there on a chessboard in total, counting all sizes?",
        "If the day after tomorrow is Sunday, what day was yesterday?",
    ],
    "summarization": [
        {"user": H_BLOG + "\n\nCan you summarize this in two sentences?"},
        {"user": "TL;DR?\n\n" + H_NOTES},
        {"user": "Give me the three most important points from this:\n\n" + H_PAPER},
        {"user": "Resume el siguiente texto en un párrafo:\n\n" + H_ES},
        "Summarize the Lord of the Rings trilogy in a paragraph.",
        "Briefly summarize the history of the Roman Empire.",
        {"user": "Can you condense my notes into a short study guide?\n\n" + H_NOTES},
        {
            "user": H_PAPER
            + "\n\nExplain the key contributions of this abstract in simple bullet points."
        },
        {"user": "Summarise this email for me:\n\n" + H_EMAIL},
        {"user": "Was sind die wichtigsten Punkte dieses Textes?\n\n" + H_BLOG},
        {"user": "Donne-moi les points essentiels de cet article :\n\n" + H_ES},
        {"user": "请用一句话总结下面的内容：\n\n" + H_BLOG},
        {"user": "この記事の要点を教えて：\n\n" + H_PAPER},
        {"user": "Recap yesterday's standup notes for the team channel:\n\n" + H_NOTES},
        {"user": H_BLOG + "\n\ntl;dr"},
        "Give me a synopsis of the movie Interstellar.",
        {"user": "Distill this into 5 key bullet points:\n\n" + H_PAPER},
        {"user": "What's the main idea of this passage?\n\n" + H_BLOG},
        {
            "system": "You are a summarization engine. Return a summary of at most 50 words.",
            "user": H_ES,
        },
        {"user": "Highlights of this call, please:\n\n" + H_CALL},
    ],
    "translation": [
        "Translate 'I would like a table for two' into Italian.",
        "How do you say 'good morning' in Vietnamese?",
        "What's the German word for 'squirrel'?",
        "Traduce esto al francés: 'El paquete llegará mañana por la tarde.'",
        "Traduis en espagnol : « Le rendez-vous est confirmé pour lundi. »",
        "Bitte übersetze ins Italienische: 'Das Hotel liegt direkt am Strand.'",
        "把'欢迎光临'翻译成英语",
        "この文を中国語に翻訳してください：今日はとても暑いです。",
        "Can you turn this into Japanese? 'Thank you for coming to our wedding.'",
        {"user": "Translate the following paragraph into English:\n\n" + H_ES},
        "What does 'c'est la vie' mean?",
        "what's 'excuse me' in korean",
        "Please translate our return policy into German: 'Items can be returned within 30 days with the original receipt.'",
        "I need the Spanish version of this text: 'Our office will be closed on Monday for the holiday.'",
        "Translate from English to Russian: 'Where is the train station?'",
        "Can you translate this Italian recipe step for me? 'Aggiungere il sale e mescolare per due minuti.'",
        "How would a native speaker say 'I'm running late' in French?",
        "Translate to Spanish, informal tone: 'Hey, are you coming to the party tonight?'",
        {
            "system": "Translate every user message into French.",
            "user": "The shipment is delayed by two days.",
        },
        "Übersetz mir das bitte auf Englisch: 'Ich komme etwas später.'",
    ],
    "image": [
        "Generate an image of a robot gardener watering tomatoes.",
        "Draw a cute cartoon octopus playing drums.",
        "Create a minimalist logo for a yoga studio named 'Still Water'.",
        "Can you make me a picture of a castle on a cliff at sunset?",
        "Design an icon set for a weather app: sun, cloud, rain, snow.",
        "Paint an oil painting of a Venetian canal at night.",
        "Illustrate a scene from a fairy tale: a girl riding a giant goose.",
        "Dibuja un gato con sombrero de vaquero.",
        "Crée une illustration d'une forêt enchantée.",
        "Erstelle ein Logo für meinen Fahrradladen.",
        "帮我生成一张海边日落的图片",
        "可愛い犬のイラストを作ってください",
        "a cozy coffee shop interior, warm lighting, digital painting",
        "Make a poster for our school science fair.",
        "Generate a realistic photo of a red sports car in the desert.",
        "I'd like an illustration of a dragon made of clouds.",
        "Sketch a floor plan of a small two-bedroom apartment.",
        "Render a low poly model of a tree.",
        {"user": [txt("Translate this menu for me"), img(2)], "vary": False},
    ],
    "agent_step": [
        {"user": "hi", "tools": TOOLSETS["calendar"], "vary": False},
        {"user": "Write me a haiku about Mondays.", "tools": TOOLSETS["search"], "vary": False},
        {
            "user": "¿Qué tiempo hará mañana en Sevilla?",
            "tools": TOOLSETS["weather"],
            "vary": False,
        },
    ],
}


def holdout_bodies() -> list[tuple[str, dict[str, Any]]]:
    """The held-out rows, with the same surface variation as the main set."""
    rng = random.Random(SEED + 1)
    out: list[tuple[str, dict[str, Any]]] = []
    for label, entries in HOLDOUT.items():
        for entry in entries:
            out.append((label, messages_for(entry, rng)))
    out.append(
        (
            "agent_step",
            {
                "messages": [
                    {"role": "user", "content": "Book the 7:10 flight."},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_h1",
                                "type": "function",
                                "function": {
                                    "name": "book_flight",
                                    "arguments": '{"offer_id": "of_1"}',
                                },
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "tool_call_id": "call_h1",
                        "content": '{"status": "booked", "pnr": "Q7XK2L"}',
                    },
                ],
                "tools": TOOLSETS["flights"],
            },
        )
    )
    out.append(
        (
            "chat",
            {
                "messages": [
                    {"role": "user", "content": [txt("Here's the photo from our hike."), img(0)]},
                    {
                        "role": "assistant",
                        "content": "What a view — a turquoise lake below snowy peaks, with two hikers in the foreground.",
                    },
                    {
                        "role": "user",
                        "content": "Thanks! Now write a fun Instagram caption for it.",
                    },
                ]
            },
        )
    )
    return out


# ---------------------------------------------------------------------------------------
# Second held-out batch: written after all tuning was done and run once; the classifier was
# not changed after seeing its result. They carry "split": "holdout2".
# ---------------------------------------------------------------------------------------

P_ARTICLE2 = """A small town in northern Sweden has become an unlikely hub for data centres. Attracted by cheap hydroelectric power and a cold climate that reduces cooling costs, three technology companies have built facilities within ten kilometres of the town centre since 2019. The projects have brought around 400 permanent jobs, a new school and a renovated train station.

Not everyone is pleased. Reindeer herders say the new power lines cut across traditional migration routes, and some residents complain that house prices have doubled, pushing young families out. The municipality has responded by reserving a share of new housing for local residents and by negotiating a fund, paid for by the companies, to support herding communities.

The mayor calls the change "the biggest thing to happen here since the railway", but admits the town is still learning how to grow without losing what made people want to live there."""

P_UPDATE = """Hi all — quick update on the mobile app launch. The iOS build passed App Store review on Monday. Android is still waiting on Google, which usually takes 2–3 days, so we're now targeting a joint launch on Thursday instead of Tuesday. Marketing will move the announcement email and the social posts accordingly. Support has the new FAQ; please send them anything you think is missing by Wednesday. The one open risk is the payment provider's sandbox outage — if it isn't fixed by Wednesday noon, we launch with card payments only and add wallets the following week. Thanks for all the work on this. — Jonas"""

P_FR = """Bonjour à tous,
Je vous informe que la réunion trimestrielle aura lieu le jeudi 14 mars à 10 heures, dans la grande salle du deuxième étage. Nous ferons le point sur les ventes du dernier trimestre, présenterons le nouveau plan de formation et discuterons de l'organisation des congés d'été. Merci de confirmer votre présence avant lundi et de m'envoyer vos questions à l'avance afin que je puisse les transmettre aux intervenants.
Bien cordialement,
Claire"""

P_STORY2 = """Every morning at four, Mrs. Okoye unlocked the bakery on Elm Street and switched on the ovens before she switched on the lights. For thirty years she had baked the same six loaves, and for thirty years the same neighbours had bought them. Then, one wet Tuesday, a boy of about nine pressed his face to the window, watching the dough rise. He came back the next day, and the next. On the fifth day she opened the door and handed him an apron. By the end of the winter he could shape a loaf better than her own son ever had, and when the bakery's sign was finally repainted in spring, it carried two names."""

HOLDOUT2: dict[str, list[Entry]] = {
    "chat": [
        "What should I name my sourdough starter? Something punny.",
        "I keep procrastinating on my thesis. How do I get unstuck?",
        "Write a wedding speech opening line that's funny but not embarrassing.",
        "What's the difference between weather and climate?",
        "Can you recommend a board game for 6 people that isn't Monopoly?",
        "Is it okay to feed my dog cooked chicken bones?",
        "Write a short LinkedIn post announcing that I've joined Acme as a data analyst.",
        "Tu connais des astuces pour mieux dormir quand il fait chaud ?",
        "Ich möchte mit dem Laufen anfangen. Wie oft sollte ich am Anfang trainieren?",
        "¿Es buena idea comprar un coche eléctrico si vivo en un piso sin garaje?",
        "有什么适合初学者的瑜伽动作吗？",
        "How do I tell my manager I'm burned out without sounding like I'm quitting?",
        "Write a thank-you note to my kid's teacher for the end of the school year.",
        "What's the origin of the phrase 'break a leg'?",
        "Brainstorm 10 names for a cat café.",
        "Rewrite this so it sounds less passive-aggressive: 'As per my last email, the report is still missing.'",
    ],
    "coding": [
        "How do I read a JSON file in Node and parse it?",
        "What does the `yield` keyword do in Python?",
        "My SQL query returns duplicate rows after a JOIN. Why?",
        "How do I set up a Python project with poetry?",
        "Explain the difference between TCP and UDP for a backend developer.",
        "Write a function in JavaScript that debounces another function.",
        "Why am I getting 'Permission denied (publickey)' when I git push?",
        "What's a good folder structure for a FastAPI project?",
        "Erkläre mir, was eine Rekursion ist, mit einem einfachen Beispiel.",
        "¿Qué es un puntero en C y para qué sirve?",
        "Comment faire une requête HTTP en Python avec requests ?",
        "用Go语言怎么读取一个文件？",
        r"Can you review my regex for emails? ^[\w.]+@[\w]+\.[a-z]{2,}$",
        "How do I make a column auto-increment in PostgreSQL?",
        "What is the difference between an abstract method and an interface in C#?",
        "I'm getting a 'cannot borrow as mutable' error in Rust. What does it mean?",
    ],
    "reasoning": [
        "If 3 pencils cost 45 cents, how much do 10 pencils cost?",
        "A square has a diagonal of 10 cm. What is its area?",
        "What's the sum of the interior angles of a hexagon?",
        "A bag has 4 red and 6 blue marbles. If I pick two without looking, what's the chance both are red?",
        "Is 561 divisible by 3? Explain how you know.",
        "Prove that there is no largest even number.",
        "If a shirt is discounted by 30% and then by another 20%, what is the total discount?",
        "My train leaves at 14:47 and the trip takes 2 hours 38 minutes. When do I arrive?",
        "Three siblings are 4, 7 and 12 years old. In how many years will the sum of their ages be 50?",
        "¿Cuál es el siguiente número de la serie 1, 1, 2, 3, 5, 8?",
        "Combien font 7 fois 8 moins 12 ?",
        "Wie viele Möglichkeiten gibt es, 5 Bücher in einem Regal anzuordnen?",
        "一个数的三倍减去5等于16，这个数是多少？",
        "ある店でりんごを3個と梨を2個買うと500円、りんごを1個と梨を2個買うと300円です。りんご1個はいくらですか？",
        "Which is longer: 1000 seconds or 16 minutes?",
        "Every cat I've met is friendly. Can I conclude that all cats are friendly? What kind of reasoning is that?",
    ],
    "summarization": [
        {"user": P_ARTICLE2 + "\n\nSummary please."},
        {"user": "Give me the gist:\n\n" + P_UPDATE},
        {"user": "Can you shorten this update to three lines for Slack?\n\n" + P_UPDATE},
        {"user": "Résumez ce texte en deux phrases :\n\n" + P_FR},
        {"user": "In two sentences, what is this story about?\n\n" + P_STORY2},
        {"user": "Fasse diesen Artikel kurz zusammen:\n\n" + P_ARTICLE2},
        "Summarize the plot of The Great Gatsby.",
        "Can you recap the key moments of the 1969 moon landing?",
        {"user": "I need the cliff notes version of this:\n\n" + P_ARTICLE2},
        {
            "system": "You are a news digest bot. For every article, reply with a three-bullet summary.",
            "user": P_FR,
        },
        {"user": "总结一下这封邮件的要点：\n\n" + P_UPDATE},
        {"user": "これを3行でまとめて：\n\n" + P_STORY2},
        {"user": "What are the key takeaways from this update?\n\n" + P_UPDATE},
        {"user": "Make this shorter without losing the important facts:\n\n" + P_ARTICLE2},
    ],
    "translation": [
        "Translate 'Happy New Year' into Chinese and Japanese.",
        "How do you say 'I'm vegetarian' in Italian?",
        "What does 'ojalá' mean?",
        "Traduce al alemán: 'Gracias por tu ayuda con la mudanza.'",
        "Traduisez en anglais, s'il vous plaît : « Le magasin ferme à 19 h. »",
        "Übersetze diesen Satz ins Spanische: 'Wir sehen uns am Wochenende.'",
        "请把这句话翻译成法语：我很高兴认识你。",
        "Can you translate this text message from my Brazilian friend? 'Saudade de você, quando vem me visitar?'",
        "What's the French word for 'bookshelf'?",
        "Translate the following into Japanese, polite form: 'Could you send me the documents by Friday?'",
        "Put this in Spanish: 'Your appointment has been confirmed for Tuesday at 10am.'",
        {"user": "Translate this email into English:\n\n" + P_FR},
        "How would you say 'the early bird catches the worm' in German? Is there an equivalent idiom?",
        "Переведи на испанский: 'Я не говорю по-испански.'",
    ],
    "image": [
        "Generate a picture of a penguin wearing sunglasses on a beach.",
        "Create an illustration of a treehouse library for kids.",
        "Can you draw a simple diagram-style picture of the solar system?",
        "Design a logo for a coffee truck called 'Bean There'.",
        "Make a cover image for my blog post about remote work, flat illustration style.",
        "Paint a picture of a fox sleeping under a maple tree in autumn.",
        "Dibújame un dragón verde volando sobre un castillo.",
        "Génère un logo pour une boulangerie artisanale.",
        "Male ein Bild von einem Leuchtturm bei Sturm.",
        "请画一幅山水画",
        "portrait of an old fisherman, dramatic lighting, oil on canvas, highly detailed",
        "Create a set of 3 stickers: a happy cloud, a grumpy sun and a sleepy moon.",
        "Give me a picture of what a Roman legionary looked like.",
        {"user": [img(1), txt("How old do you think this building is?")], "vary": False},
    ],
    "agent_step": [
        {"user": "What's on my calendar tomorrow?", "tools": TOOLSETS["calendar"], "vary": False},
        {
            "user": "来週の火曜日に東京から大阪への便を探して。",
            "tools": TOOLSETS["flights"],
            "vary": False,
        },
        {"user": "thanks, that's all", "tools": TOOLSETS["email"], "vary": False},
    ],
}


def holdout2_bodies() -> list[tuple[str, dict[str, Any]]]:
    """The second held-out batch, with the same surface variation as the main set."""
    rng = random.Random(SEED + 2)
    out: list[tuple[str, dict[str, Any]]] = []
    for label, entries in HOLDOUT2.items():
        for entry in entries:
            out.append((label, messages_for(entry, rng)))
    out.append(
        (
            "agent_step",
            {
                "messages": [
                    {
                        "role": "user",
                        "content": "How many open bugs do we have, and who has the most?",
                    },
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_q1",
                                "type": "function",
                                "function": {
                                    "name": "run_sql",
                                    "arguments": '{"query": "SELECT assignee, count(*) FROM issues WHERE state = \'open\' GROUP BY 1 ORDER BY 2 DESC"}',
                                },
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "tool_call_id": "call_q1",
                        "content": '{"rows": [["dana", 14], ["li", 9]]}',
                    },
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_q2",
                                "type": "function",
                                "function": {
                                    "name": "run_sql",
                                    "arguments": '{"query": "SELECT count(*) FROM issues WHERE state = \'open\'"}',
                                },
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call_q2", "content": '{"rows": [[41]]}'},
                ],
                "tools": TOOLSETS["sql"],
            },
        )
    )
    out.append(
        (
            "coding",
            {
                "messages": [
                    {"role": "user", "content": "How do I sort a dict by value in Python?"}
                ],
                "tools": [],
            },
        )
    )
    return out


# ---------------------------------------------------------------------------------------
# Surface variation. Never changes what is asked.
# ---------------------------------------------------------------------------------------

GENERIC_SYSTEMS = [
    "You are a helpful assistant.",
    "You are a helpful, concise assistant. Answer in the same language as the user.",
    "You are Aria, the virtual assistant of Northwind Bank. Be friendly and professional.",
    "You are an expert assistant. You can help with writing, coding, maths, translation, summaries and general questions.",
    "Current date: 2025-05-02. Format answers in Markdown.",
    "You are ChatGPT, a large language model. Knowledge cutoff: 2024-06.",
]

OPENERS = [
    ("hi", "Hi! How can I help you today?"),
    ("hello, are you there?", "Yes, I'm here. What can I do for you?"),
    ("I have a question", "Sure, go ahead."),
    ("Good morning!", "Good morning! What would you like to work on?"),
    (
        "Can you recommend a podcast about history?",
        "Sure — 'The Rest Is History' is a popular, entertaining choice.",
    ),
    ("what's 12*13", "12 × 13 = 156."),
    (
        "How do I reverse a list in Python?",
        "Use `my_list.reverse()` to reverse in place, or `my_list[::-1]` for a reversed copy.",
    ),
    ("Translate 'thank you' into German", '"Danke" — or, more formally, "Vielen Dank".'),
    (
        "Summarize the plot of Romeo and Juliet in one line.",
        "Two young lovers from feuding families marry in secret, and a chain of misunderstandings ends in both their deaths.",
    ),
]

PREFIXES = ["Hi! ", "Hey, quick question: ", "Hello, ", "Sorry to bother you, but ", "Question — "]
SUFFIXES = [" Thanks!", " Thanks in advance.", " ty", " 🙏", " Cheers"]

_WORD = re.compile(r"[A-Za-z]{6,}")


def typo(text: str, rng: random.Random) -> str:
    """Swap two inner letters in one or two longer words, the way fast typists do."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    for m in sorted(
        rng.sample(words, min(len(words), rng.choice((1, 2)))), key=lambda m: -m.start()
    ):
        w = m.group()
        k = rng.randrange(1, len(w) - 2)
        w2 = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        text = text[: m.start()] + w2 + text[m.end() :]
    return text


def is_plain_english(text: str) -> bool:
    return text.isascii() and "```" not in text and len(text) < 400 and "\n" not in text


def vary(
    user: str, rng: random.Random
) -> tuple[str | list[dict[str, Any]], str | None, list[tuple[str, str]]]:
    """Pick this prompt's surface: casing, typos, politeness, system prompt, opener, parts."""
    system: str | None = None
    history: list[tuple[str, str]] = []
    if is_plain_english(user):
        r = rng.random()
        if r < 0.10:
            user = typo(user, rng)
        elif r < 0.18:
            user = user[0].lower() + user[1:].rstrip(".?!")
        elif r < 0.30:
            user = rng.choice(PREFIXES) + user[0].lower() + user[1:] + rng.choice(SUFFIXES)
    if rng.random() < 0.22:
        system = rng.choice(GENERIC_SYSTEMS)
    if rng.random() < 0.15:
        history = [("user", (o := rng.choice(OPENERS))[0]), ("assistant", o[1])]
    content: str | list[dict[str, Any]] = user
    if rng.random() < 0.10:
        content = [txt(user)]
    return content, system, history


def messages_for(entry: Entry, rng: random.Random) -> dict[str, Any]:
    """Turn an entry into an OpenAI chat-completions body."""
    if isinstance(entry, str):
        entry = {"user": entry}
    user = entry["user"]
    system: str | None = entry.get("system")
    history: list[tuple[str, str]] = list(entry.get("history", []))
    if entry.get("vary", True) and isinstance(user, str) and not history:
        user, sys2, history = vary(user, rng)
        system = system or sys2
    msgs: list[dict[str, Any]] = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.extend({"role": r, "content": c} for r, c in history)
    msgs.append({"role": "user", "content": user})
    body: dict[str, Any] = {"messages": msgs}
    if "tools" in entry:
        body["tools"] = entry["tools"]
    return body


def image_input_bodies(rng: random.Random) -> list[dict[str, Any]]:
    """Image parts in the latest user turn, with assorted text, history and tools."""
    out: list[dict[str, Any]] = []
    for i, (text, n) in enumerate(IMAGE_INPUT):
        parts: list[dict[str, Any]] = [
            img(i + k, "low" if (i + k) % 4 == 0 else None) for k in range(n)
        ]
        if text:
            parts = [*parts, txt(text)] if i % 3 == 0 else [txt(text), *parts]
        msgs: list[dict[str, Any]] = []
        if rng.random() < 0.25:
            msgs.append({"role": "system", "content": rng.choice(GENERIC_SYSTEMS)})
        if i % 6 == 5:
            msgs += [
                {"role": "user", "content": "I'm going to send you a photo."},
                {"role": "assistant", "content": "Sure, go ahead and upload it."},
            ]
        msgs.append({"role": "user", "content": parts})
        out.append({"messages": msgs})
    # An image in the latest turn wins over tools on offer.
    out.append(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [txt("Add this receipt to my expenses, category travel."), img(3)],
                }
            ],
            "tools": TOOLSETS["calc"],
        }
    )
    return out


def negative_structure_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Structure that must NOT decide: an image only in an earlier turn, a finished tool loop."""
    return [
        (
            "translation",
            {
                "messages": [
                    {"role": "user", "content": [txt("What does this menu say?"), img(0)]},
                    {
                        "role": "assistant",
                        "content": "It's a lunch menu: soup of the day, grilled sardines with potatoes, and custard tart for dessert.",
                    },
                    {
                        "role": "user",
                        "content": "Thanks! How do you say 'the bill, please' in Portuguese?",
                    },
                ]
            },
        ),
        (
            "chat",
            {
                "messages": [
                    {"role": "user", "content": [txt("Here's my living room."), img(1)]},
                    {
                        "role": "assistant",
                        "content": "Nice space! The big window and the grey sofa stand out.",
                    },
                    {
                        "role": "user",
                        "content": "What colour curtains would go with a grey sofa and oak floors?",
                    },
                ]
            },
        ),
        (
            "summarization",
            {
                "messages": [
                    {"role": "user", "content": [txt("Read this page of my notes."), img(2)]},
                    {
                        "role": "assistant",
                        "content": "The page covers the causes of the First World War: alliances, militarism, imperial rivalry, nationalism, and the assassination in Sarajevo as the trigger.",
                    },
                    {
                        "role": "user",
                        "content": "Summarize that into three bullet points I can memorise.",
                    },
                ]
            },
        ),
        (
            "chat",
            {
                "messages": [
                    {"role": "user", "content": "What's the weather in Rome?"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_w1",
                                "type": "function",
                                "function": {
                                    "name": "get_weather",
                                    "arguments": '{"city": "Rome"}',
                                },
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "tool_call_id": "call_w1",
                        "content": '{"summary": "sunny", "high_c": 27}',
                    },
                    {"role": "assistant", "content": "Sunny and 27°C in Rome today."},
                    {
                        "role": "user",
                        "content": "Lovely. What should I wear for a day of sightseeing in that heat?",
                    },
                ]
            },
        ),
    ]


def build() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []

    def add(label: str, body: dict[str, Any]) -> None:
        n = sum(1 for r in rows if r["label"] == label) + 1
        rows.append({"id": f"{label}-{n:03d}", "label": label, "body": body, "source": SOURCE})

    for label, entries in (
        ("chat", CHAT),
        ("coding", CODING),
        ("reasoning", REASONING),
        ("summarization", SUMMARIZATION),
        ("translation", TRANSLATION),
    ):
        for entry in entries:
            add(label, messages_for(entry, rng))
    for body in image_input_bodies(rng):
        add("image", body)
    for entry in IMAGE_GEN:
        add("image", messages_for(entry, rng))
    for body in agent_bodies():
        add("agent_step", body)
    for label, body in negative_structure_bodies():
        add(label, body)
    for label, body in holdout_bodies():
        add(label, body)
        rows[-1]["split"] = "holdout"
    for label, body in holdout2_bodies():
        add(label, body)
        rows[-1]["split"] = "holdout2"
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    print(f"wrote {len(rows)} rows to {OUT}: {counts}")


if __name__ == "__main__":
    main()
