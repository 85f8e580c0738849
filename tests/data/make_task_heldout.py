# ruff: noqa: E501, RUF001
"""Build ``task_eval_heldout.jsonl``: the third held-out batch (session 5, issue 14).

Written and committed before any rule of this session changed, and scored once before and
once after. No rule was written from these rows. Run ``python tests/data/make_task_heldout.py``
from the repository root; the output is deterministic.

Sources (labels by the rules in ``tests/data/README.md``, not the source's own tags):

- ``heldout3-public``: 18 prompts from databricks-dolly-15k (Databricks, CC BY-SA 3.0;
  their text is used here under that licence, unchanged: instruction, then context if any)
  and 20 word problems from GSM8K's *train* split (OpenAI grade-school-math, MIT; the test
  split is reserved for routing evaluation and is not used). GSM8K rows were drawn with
  ``random.seed(14)``; the line numbers are kept in ``source``.
- ``heldout3-nocue``: prompts written for omni-proxy in the way people write them, most
  without the cue words the lexicon keys on: coding questions in plain words, puzzles told
  as stories, translations that never say "translate", condensing without "summarize".
- ``heldout3-nonen``: maths and code asked in Spanish, French, German, Italian, Portuguese,
  Russian, Chinese, Japanese and Korean.
- ``heldout3-paste``: pasted material whose vocabulary points away from the ask.
- ``heldout3-chat``: ordinary chat with numbers, questions and technical words, to catch
  over-firing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("task_eval_heldout.jsonl")
OWN = "written for omni-proxy (session 5)"
DOLLY = "databricks-dolly-15k (CC BY-SA 3.0)"

NOCUE: list[tuple[str, str]] = [
    # coding, mostly in plain words
    ("coding", "my loop keeps skipping items when I remove things from the list inside it, why"),
    ("coding", "How do I undo my last commit but keep the changes?"),
    ("coding", "the page looks fine on desktop but on my phone everything spills off to the right. what am I missing in the stylesheet?"),
    ("coding", "Why does 0.1 + 0.2 print 0.30000000000000004?"),
    ("coding", "how can I make my app remember that the user is logged in after they close the browser"),
    ("coding", "Should I store timestamps in UTC or local time in the db?"),
    ("coding", "I get ModuleNotFoundError: No module named 'requests' even though I installed it"),
    ("coding", "What does it mean when a program is single-threaded but still handles thousands of connections at once?"),
    ("coding", "how do i get the last 3 characters of a string in js"),
    ("coding", "write me something that renames all the photos in a folder to the date they were taken"),
    ("coding", "Is it bad practice to keep everything in one giant file in my project? It's about 4000 lines now."),
    ("coding", "How do I keep the submit button disabled until every field in the form is filled in?"),
    ("coding", "what's the cleanest way to check whether two lists hold the same elements regardless of order"),
    ("coding", "can you explain what a closure is like I'm five"),
    ("coding", "The app crashes every time I rotate the screen on Android. Where do I even start looking?"),
    ("coding", "How do I find out which process is using port 8080 on my Mac?"),
    ("coding", "my query takes 40 seconds on a table with 2 million rows, how do I speed it up?"),
    ("coding", "what does 'npm ERR! peer dep missing' mean and do I need to care"),
    ("coding", "Why would two numbers come back as NaN after I add the inputs together on my page?"),
    ("coding", "Turn this into a one-liner: for each word in the sentence keep it only if it's longer than three letters."),
    ("coding", "How do I keep secrets like passwords out of my git history?"),
    ("coding", "What's a good way to let users upload big files without the server timing out?"),
    ("coding", "Is there a way to make the tests run faster? The whole suite takes 20 minutes on CI."),
    ("coding", "how do I make a column in my spreadsheet show 'late' when the date in column B is before today"),
    ("coding", "My website works locally but on the hosting it just shows a blank white page. No errors anywhere."),
    ("coding", "What's the difference between passing something by value and by reference?"),
    # reasoning, told as stories
    ("reasoning", "A farmer has to get a wolf, a goat and a cabbage across a river in a boat that only holds him and one of them. How does he do it without anything getting eaten?"),
    ("reasoning", "If it takes 5 machines 5 minutes to make 5 widgets, how long would it take 100 machines to make 100 widgets?"),
    ("reasoning", "I'm facing two doors with a guard at each. One guard always lies and one always tells the truth. What single question gets me through the right door?"),
    ("reasoning", "Anna is taller than Ben, Ben is taller than Carla, and Dan is shorter than Carla. Who is second tallest?"),
    ("reasoning", "A snail climbs 3 metres up a 10 metre well each day and slips back 2 metres each night. On which day does it get out?"),
    ("reasoning", "You have a 3 litre jug and a 5 litre jug and a tap. How do you end up with exactly 4 litres?"),
    ("reasoning", "Sally has three brothers. Each of her brothers has two sisters. How many sisters does Sally have?"),
    ("reasoning", "A clock shows 3:15. What's the angle between the hour and minute hands?"),
    ("reasoning", "Five friends sit in a row. Mia is not at either end, Leo sits directly right of Mia, and Zoe sits at the left end next to Sam. Who is in the middle seat?"),
    # (a number sequence was dropped here: the same prompt is dev-081 in task_dev.jsonl)
    ("reasoning", "If all bloops are razzies and some razzies are lazzies, are some bloops definitely lazzies?"),
    ("reasoning", "My train leaves at 2:40 and the trip is 3 hours 35 minutes. When do I get in?"),
    ("reasoning", "I paid 84 for a jacket that was 30% off. What was it before the sale?"),
    ("reasoning", "There are 8 balls and one is slightly heavier. With a balance scale, what's the fewest weighings that always finds it?"),
    ("reasoning", "If today is Wednesday, what day of the week was it 100 days ago?"),
    ("reasoning", "Three friends pay 30 for a room, 10 each. The clerk realises it was 25 and sends the bellboy up with 5. He keeps 2 and gives each friend 1 back. So each paid 9, that's 27, plus the bellboy's 2 is 29. Where did the other one go?"),
    ("reasoning", "12 people at a party each shake hands once with everyone else. How many handshakes is that?"),
    ("reasoning", "A patch of lily pads doubles in size every day and covers the whole pond on day 48. On what day did it cover half of it?"),
    ("reasoning", "roughly how many piano tuners are there in Chicago"),
    ("reasoning", "If I fold a sheet of paper 0.1 mm thick in half 7 times, how thick is the stack?"),
    ("reasoning", "Which is bigger, 2^100 or 10^30?"),
    ("reasoning", "A man looks at a portrait and says: brothers and sisters I have none, but that man's father is my father's son. Who is in the portrait?"),
    ("reasoning", "Two trains 300 km apart head toward each other, one at 70 and one at 80 km per hour. When do they meet?"),
    ("reasoning", "If you're in a race and you pass the person in second place, what place are you in?"),
    # translation, without "translate"
    ("translation", "What would a Parisian call a sidewalk?"),
    ("translation", "how do germans say cheers when they're drinking"),
    ("translation", "I need this sign to be readable for our Japanese guests: 'Please take off your shoes before coming in.'"),
    ("translation", "Put 'we are closed on Sundays' in Italian please"),
    ("translation", "Is 'Ich bin ein Berliner' correct German for 'I am a citizen of Berlin'?"),
    ("translation", "My Brazilian colleague wrote 'valeu, até amanhã' at the end of her email. What does that mean?"),
    ("translation", "Can you give me the English for 'je ne sais quoi'?"),
    ("translation", "Quick: 'where is the train station' in Portuguese?"),
    ("translation", "Rewrite this so my Spanish-speaking landlord can read it in his own language: The heating has been broken for three days and it's getting really cold."),
    ("translation", "En inglés por favor: 'Me gustaría reservar una mesa para cuatro personas a las nueve.'"),
    # summarization, without "summarize"
    ("summarization", "Overview of the plot of Hamlet, no more than a paragraph please."),
    ("summarization", "I have five minutes before the meeting. What are the essentials of this?\n\nThe quarterly review shows revenue up 8% year on year, driven mostly by the enterprise tier, while consumer subscriptions fell for the second quarter in a row. Churn among small businesses rose to 4.1%, which the team attributes to the price change in March. Support tickets dropped by a fifth after the new help centre launched. Hiring is frozen except for two security roles. The board asked for a plan to win back small business customers by the end of next quarter."),
]

NONEN: list[tuple[str, str]] = [
    ("reasoning", "Juan tiene el doble de canicas que Pedro y entre los dos suman 36. ¿Cuántas tiene cada uno?"),
    ("reasoning", "Un train part à 8 h et roule à 90 km/h. Un autre part à 9 h à 120 km/h sur la même voie. À quelle heure le rattrape-t-il ?"),
    ("reasoning", "Ein Vater ist heute viermal so alt wie sein Sohn. In 20 Jahren ist er nur noch doppelt so alt. Wie alt sind beide heute?"),
    ("reasoning", "Se tre gatti catturano tre topi in tre minuti, quanti gatti servono per catturare cento topi in cento minuti?"),
    ("reasoning", "Uma loja dá 20% de desconto e depois mais 10% sobre o novo preço. Qual é o desconto total?"),
    ("reasoning", "У Маши было 15 яблок, она отдала треть брату, а потом съела два. Сколько осталось?"),
    ("reasoning", "一个长方形的长是宽的3倍，周长是48厘米，它的面积是多少？"),
    ("reasoning", "太郎君は時速4キロで歩いて駅まで30分かかります。自転車だと時速12キロです。何分で着きますか？"),
    ("reasoning", "Si mañana es domingo, ¿qué día fue anteayer?"),
    ("reasoning", "Combien de fois les aiguilles d'une horloge se superposent-elles en une journée ?"),
    ("reasoning", "Wenn 3 Maler ein Haus in 12 Tagen streichen, wie lange brauchen 4 Maler?"),
    ("reasoning", "사과 5개와 배 3개의 가격이 4200원이고, 사과 한 개가 600원이면 배 한 개는 얼마인가요?"),
    ("coding", "¿Por qué mi página se queda en blanco cuando hago clic en el botón de enviar?"),
    ("coding", "Comment inverser une liste en Python sans la modifier ?"),
    ("coding", "Wie kann ich in Excel doppelte Einträge in einer Spalte markieren?"),
    ("coding", "如何在git里撤销上一次提交，但保留改动？"),
    ("coding", "Как сделать так, чтобы скрипт запускался каждый день в 3 часа ночи на сервере?"),
    ("chat", "¿Qué me recomiendas visitar en Lisboa si solo tengo dos días?"),
    ("chat", "Quelle est la différence entre un croissant et un pain au chocolat ?"),
]

_ABSTRACT = (
    "We study the asymptotic behaviour of the expected number of fixed points of a random "
    "permutation drawn under the Ewens measure with parameter theta. Using generating functions "
    "we derive an exact formula for the probability that a permutation of n elements has k "
    "fixed points and prove that the distribution converges to a Poisson law with mean theta. "
    "We then compute the variance and bound the rate of convergence in total variation distance."
)
_RECIPE = (
    "Ingredients: 250 g flour, 2 eggs, 300 ml milk, 1 tbsp sugar, a pinch of salt, 30 g butter.\n"
    "Whisk flour, sugar and salt. Beat in the eggs, then slowly add the milk until smooth. Rest 20 "
    "minutes. Melt a little butter in a hot pan, pour 60 ml of batter, cook 1 minute per side. "
    "Makes about 12 pancakes."
)
_HISTORY = (
    "Grace Hopper joined the Harvard Mark I team in 1944, where she wrote some of the first "
    "programs for the machine. In the 1950s she led the team that built the A-0 compiler and later "
    "pushed for programming languages that read like English, which led to COBOL. She popularised "
    "the word 'bug' after a moth was found in a relay of the Mark II, and spent her later career "
    "teaching the navy and industry to standardise their software and to test it properly."
)
_BUDGET_MAIL = (
    "Hi,\n\nFollowing up on the offsite: the venue quoted 4,200 for two days, catering is 38 per "
    "person for 45 people, and the bus company wants 650 each way. That puts us at roughly 10,200 "
    "against a budget of 9,000. Could you let me know by Friday whether we can go ahead, or if we "
    "should drop the second day?\n\nThanks,\nMarta"
)
_FRENCH_OPINION = (
    "Le télétravail n'est pas une mode passagère. Les entreprises qui l'ont refusé ont perdu leurs "
    "meilleurs éléments, et celles qui l'ont adopté sans règles claires ont vu l'isolement et la "
    "fatigue gagner leurs équipes. La solution n'est ni le retour forcé au bureau ni le tout-à-distance, "
    "mais un contrat explicite sur les jours de présence et le droit à la déconnexion."
)
_HOMEWORK = (
    "A bakery sells muffins for 2 dollars each and cookies for 50 cents each. On Monday it sold "
    "three times as many cookies as muffins and made 70 dollars. How many muffins did it sell?"
)
_SQL = (
    "SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id "
    "AND o.created_at > now() - interval '30 days'\nGROUP BY c.name\nHAVING COUNT(o.id) = 0;"
)
_TRANSLATION_NEWS = (
    "Machine translation has changed the work of professional translators less than many predicted. "
    "Agencies report that most jobs are now post-editing: a translator corrects a machine draft "
    "rather than starting from a blank page. Rates per word have fallen, but volumes have grown, and "
    "demand for specialised legal and medical translation still outstrips supply. Several translators "
    "interviewed said the biggest change was not quality but speed: clients now expect same-day delivery."
)

PASTE: list[tuple[str, str]] = [
    ("chat", _ABSTRACT + "\n\nMake this paragraph sound less stiff, it's for a general audience talk."),
    ("chat", _RECIPE + "\n\nCan you make this sound more inviting for our café menu?"),
    ("summarization", "Boil this down for our newsletter, two sentences max:\n\n" + _HISTORY),
    ("chat", _BUDGET_MAIL + "\n\nDraft a polite reply saying we'll get back to her next week."),
    ("chat", _FRENCH_OPINION + "\n\nDo you agree with the author? Answer in English."),
    ("chat", "Is this question worded clearly enough for ten-year-olds? Don't solve it, just tell me if the wording works.\n\n" + _HOMEWORK),
    ("coding", _SQL + "\n\nExplain in plain English what this returns."),
    ("summarization", _TRANSLATION_NEWS + "\n\nWhat are the main things to take away from this?"),
    ("reasoning", "My son's homework, I can't figure it out either:\n\n" + _HOMEWORK),
    ("chat", _HISTORY + "\n\nWrite a short poem inspired by her life."),
]

CHAT: list[tuple[str, str]] = [
    ("chat", "I'm 34 and have 20k saved. Should I pay off my car loan at 6% or invest it?"),
    ("chat", "What's a good gift for a 5 year old who loves dinosaurs?"),
    ("chat", "Write a short poem about the number seven."),
    ("chat", "How many calories should an adult eat a day?"),
    ("chat", "Can you help me write a toast for my sister's wedding? She's marrying her college sweetheart after 10 years together."),
    ("chat", "What's the best way to start learning guitar at 40?"),
    ("chat", "Who won the 2018 World Cup?"),
    ("chat", "Plan a 3 day itinerary for Lisbon, we like food and museums."),
    ("chat", "Is it rude not to tip in Japan?"),
    ("chat", "My manager wants me to take on a second project but I already work 50 hours a week. How do I say no without hurting my chances of promotion?"),
    ("chat", "Which laptop is better for a student, a MacBook Air or a ThinkPad?"),
    ("chat", "What's the history behind the QWERTY keyboard layout?"),
]

DOLLY_ROWS: list[tuple[str, str]] = [
    ("chat", "When did Virgin Australia start operating?\n\nVirgin Australia, the trading name of Virgin Australia Airlines Pty Ltd, is an Australian-based airline. It is the largest airline by fleet size to use the Virgin brand. It commenced services on 31 August 2000 as Virgin Blue, with two aircraft on a single route.[3] It suddenly found itself as a major airline in Australia's domestic market after the collapse of Ansett Australia in September 2001. The airline has since grown to directly serve 32 cities in Australia, from hubs in Brisbane, Melbourne and Sydney.[4]"),
    ("chat", "Which is a species of fish? Tope or Rope"),
    ("chat", "Why can camels survive for long without water?"),
    ("reasoning", "Alice's parents have three daughters: Amy, Jessy, and what\u2019s the name of the third daughter?"),
    ("chat", "Who gave the UN the land in NY to build their HQ"),
    ("chat", "Why mobile is bad for human"),
    ("chat", "what does it mean to have brunette hair?"),
    ("chat", "What is ProSavin\n\nProSavin is an experimental drug believed to be of use in the treatment of Parkinson's disease. It is administered to the striatum in the brain, inducing production of dopamine.[1]\n\nIt is manufactured by Oxford BioMedica. Results from a Phase I/II clinical trial were published in the Lancet[2] and showed safety, but little efficacy.[3] ProSavin was superseded by AXO-Lenti-PD (OXB-102), an optimized version of the drug.[4]"),
    ("chat", "find the country that had wars with Egypt, and country that formed an ally to Egypt\n\nModern Egypt dates back to 1922, when it gained independence from the British Empire as a monarchy. Following the 1952 revolution, Egypt declared itself a republic, and in 1958 it merged with Syria to form the United Arab Republic, which dissolved in 1961. Throughout the second half of the 20th century, Egypt endured social and religious strife and political instability, fighting several armed conflicts with Israel in 1948, 1956, 1967 and 1973, and occupying the Gaza Strip intermittently until 1967. In 1978, Egypt signed the Camp David Accords, officially withdrawing from the Gaza Strip and recognising Israel. After the Arab Spring, which led to the 2011 Egyptian revolution and overthrow of Hosni Mubarak, the country faced a protracted period of political unrest. Egypt's current government, a semi-presidential republic led by Abdel Fattah el-Sisi since 2014, has been described by a number of watchdogs as authoritarian and responsible for perpetuating the country's poor human rights record."),
    ("chat", "Classify each item in the list based on the following types of sport: team, individual, water, extreme.\n\nList to classify: soccer (football), basketball, tennis, baseball, American football, golf, cricket, swimming."),
    ("chat", "Write an email to Visa alerting them that I am no longer interested in the position I\u2019m interviewing for since I have accepted another offer. I have a lot of respect for the company and their employee experience is high!"),
    ("chat", "At what age are children considered adults?"),
    ("chat", "Give me a list of 7 of the most popular Pok\u00e9mon"),
    ("chat", "What should you do if a black bear approaches you while you are hiking?"),
    ("chat", "What are 4 good reasons to get solar panels and a powerwall for my house?"),
    ("chat", "How can I boost my energy levels throughout the day?"),
    ("chat", "Identify which animal is domesticated or wild: Ferret, Northern bobwhite"),
    ("chat", "Who is the best soccer player ?"),
]

GSM8K_TRAIN: list[tuple[int, str]] = [
    (594, "Ed and Jacob already had 2 shells in their shell collection. Then they went to the beach to collect even more. Ed found 7 limpet shells, 2 oyster shells, and 4 conch shells. Jacob found 2 more shells than Ed did. How many shells do the pair have altogether?"),
    (875, "To get the printer to work, Jerry needs to add a black-and-white cartridge and three color cartridges. If each color cartridge costs $32 and each black-and-white cartridge costs $27, how much does he pay total?"),
    (2022, "Dana normally drinks a 500 ml bottle of soda each day. Since the 500 ml bottles are currently out of stock at the store, she buys a 2-liter bottle of soda instead. If Dana continues to drink 500 ml of soda each day, how long will the 2-liter bottle of soda last? There are 1,000 ml in 1 liter."),
    (2095, "There are 60 pieces of chips in Lara's bag. One-sixth of the chips are blue. There are 34 red chips and the rest are green. How many green chips are in Lara's bag?"),
    (2220, "Luke takes a 70-minute bus to work every day. His coworker Paula takes 3/5 of this time to arrive by bus at work. If Luke takes a bike ride back home every day, 5 times slower than the bus, and Paula takes the bus back home, calculate the total amount of time, in minutes, they take traveling from home to work and back each day."),
    (2384, "Gerald wants to buy a meat pie that costs 2 pfennigs. Gerald has 54 farthings, and there are 6 farthings to a pfennig. How many pfennigs will Gerald have left after buying the pie?"),
    (2482, "Jenna is hemming her prom dress. The dress's hem is 3 feet long. Each stitch Jenna makes is 1/4 inch long. If Jenna makes 24 stitches per minute, how many minutes does it take Jenna to hem her dress?"),
    (3249, "A pound of strawberries costs $2.20 and a pound of cherries costs 6 times as much as strawberries. If Briget will buy 5 pounds of strawberries and 5 pounds of cherries, how much will it cost?"),
    (3684, "Amelia has laundry to do. She has a load of whites that will take 72 minutes in the washing machine and 50 minutes in the dryer. She has a load of darks that will take 58 minutes in the washing machine and 65 minutes in the dryer. She has a load of colors that will take 45 minutes in the washer and 54 minutes in the dryer. If she does one load at a time, how long will it take her to wash and dry all three loads, in minutes?"),
    (3822, "Alec is running for Class President. He thinks that if he can get three-quarters of the class to vote for him then there is no chance anyone else can beat him. Half of the class have already said they will vote for him but out of the remaining students, only 5 have said they are thinking about voting for him. He surveys the students who are thinking about voting for someone else, and changes his flyers to reflect the issues these students are concerned about. This results in a fifth of these students saying they'll vote for him. If Alec's class has 60 students and everyone who said they will vote for him does so, how many more votes does Alec need to reach his goal number of votes?"),
    (4318, "Mell went to a cafeteria to spend some time with her friends. She ordered two cups of coffee and one piece of cake. Two of her friends ordered the same, but each of them also bought a bowl of ice cream. One cup of coffee is $4, one piece of cake is $7, and a bowl of ice cream is $3. How much money did Mell and her friends need to pay at the cafeteria?"),
    (5045, "Last week, Mr. Sanchez bought 6 feet of rope for their class activity. He found that he lacks rope for the activity so this week, he bought 4 feet less than last week. Since there are 12 inches in a foot, how many inches of ribbon did Mr. Sanchez buy in all?"),
    (5341, "Mark is 5 feet 3 inches tall and Mike is 6 feet and 1 inch tall. How much taller is Mike than Mark in inches if 1 foot is equal to 12 inches?"),
    (5394, "Hannah has 5 times as many dolls as her sister. Her sister has 8 dolls. How many dolls do they have altogether?"),
    (5605, "Two years ago, Jared was twice as old as Tom. If Tom will be 30 in five years, how old is Jared now?"),
    (5755, "John is twice as old as Mary and half as old as Tonya. If Tanya is 60, what is their average age?"),
    (6013, "Melisa and Jennifer threw a fiftieth birthday party for their father at a local restaurant. When the bill came, Melisa added a 15% tip of $42. Jennifer said that the service was wonderful and they should leave a 20% tip instead. How much is a 20% tip?"),
    (6022, "Barbie and Bruno have a pile of 144 coconuts that they need to move from one side of their yard to the other side.  Barbie can carry 4 coconuts at a time, while Bruno can carry 8 coconuts at a time.  If they make trips together carrying their maximum number of coconuts each time, how many trips together would they need to make to move all of the coconuts?"),
    (6186, "Tom turned 32 years old 5 years ago.  7 years ago Jim was 5 years older than half Tom's age.  How old is Jim in 2 years?"),
    (7150, "Lindsey owns 4 more cars than Cathy. Susan owns 2 fewer cars than Carol. Carol owns twice as many cars as Cathy. If Cathy owns 5 cars, how many total cars do they all own put together?"),
]

RECAP = [
    {"role": "user", "content": "We're choosing between Postgres and MongoDB for a small booking app. Thoughts?"},
    {"role": "assistant", "content": "For bookings, relational data and transactions matter: reservations, customers, rooms and payments reference each other, and double bookings must be prevented with constraints. Postgres gives you that, plus JSONB when you need flexible fields. MongoDB shines with document-shaped data and horizontal scaling you probably don't need yet."},
    {"role": "user", "content": "ok, and hosting? we're 3 people"},
    {"role": "assistant", "content": "A managed service keeps you out of backups and upgrades: a small managed Postgres instance costs little and frees your time. Put the app on a platform that deploys from your repository."},
    {"role": "user", "content": "give me the gist of what we settled on so I can paste it to the team"},
]


def rows() -> list[dict[str, Any]]:
    """Every row, in a fixed order with stable ids."""
    out: list[dict[str, Any]] = []

    def add(label: str, body: dict[str, Any], split: str, source: str) -> None:
        n = sum(1 for r in out if r["split"] == split) + 1
        out.append(
            {
                "id": f"{split}-{n:03d}",
                "label": label,
                "body": body,
                "source": source,
                "split": split,
            }
        )

    def user(text: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": text}]}

    for label, text in DOLLY_ROWS:
        add(label, user(text), "heldout3-public", DOLLY)
    for line, text in GSM8K_TRAIN:
        add("reasoning", user(text), "heldout3-public", f"GSM8K train line {line} (MIT)")
    for label, text in NOCUE:
        add(label, user(text), "heldout3-nocue", OWN)
    add("summarization", {"messages": RECAP}, "heldout3-nocue", OWN)
    for label, text in NONEN:
        add(label, user(text), "heldout3-nonen", OWN)
    for label, text in PASTE:
        add(label, user(text), "heldout3-paste", OWN)
    for label, text in CHAT:
        add(label, user(text), "heldout3-chat", OWN)
    return out


def main() -> None:
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows():
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
