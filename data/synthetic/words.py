"""Word lists and templates of the synthetic corpus (invented reviews and biographies).

Everything here is made up for the synthetic corpus; no sentence is taken from ZuCo. No entry
may contain a source string of the docs/protocol.md §texts typo book (tests check it), except where a typo
is planted on purpose by ``data.synthetic.text``.
"""
from __future__ import annotations

# --- movie reviews (ZuCo1 task1) -------------------------------------------------------------
MOVIE_SUBJECTS = (
    "the film", "this movie", "the picture", "the story", "the director's new feature",
    "this comedy", "the drama", "the thriller", "the sequel", "the documentary", "this romance",
    "the adaptation", "the remake", "this musical", "the animated feature", "the war epic",
)
MOVIE_ASPECTS = (
    "the acting", "the script", "the pacing", "the soundtrack", "the camera work",
    "the dialogue", "the ending", "the plot", "the lead performance", "the humor", "the editing",
    "the visual style", "the supporting cast", "the score", "the premise", "the final act",
)
MOVIE_TOPICS = (
    "family life", "small town politics", "first love", "growing old", "a failing marriage",
    "the music business", "life at sea", "a long summer", "two rival chefs", "a missing painting",
    "the space race", "a boxing career", "a village election", "three sisters", "an old hotel",
    "a stolen horse", "a school orchestra", "a night shift", "a border town", "a lost letter",
)
ADJECTIVES = {
    1: ("gripping", "charming", "moving", "witty", "beautiful", "clever", "delightful",
        "heartfelt", "stunning", "funny", "tender", "sharp", "vivid", "generous", "thrilling",
        "graceful", "smart", "warm"),
    -1: ("dull", "clumsy", "tedious", "shallow", "predictable", "bland", "messy", "empty",
         "lifeless", "silly", "forced", "hollow", "sluggish", "stale", "confused", "cheap",
         "noisy", "tiresome"),
    0: ("ordinary", "modest", "conventional", "uneven", "familiar", "routine", "quiet", "plain",
        "slight", "standard", "mild", "measured"),
}
GIST = {1: "good", 0: "neither good nor bad", -1: "bad"}
ADVERBS = ("thoroughly", "often", "mostly", "consistently", "surprisingly", "quietly",
           "remarkably", "strangely", "genuinely", "largely")
ONE_WORD_REVIEWS = (("Wonderful", 1), ("Dreadful", -1), ("Fine", 0))

MOVIE_MAINS = (
    "{subj} is {adv} {adj}",
    "{aspect} of {subj} is {adj}",
    "{subj} offers a {adj} look at {topic}",
    "watching {subj} is a {adj} experience",
    "{subj} turns {topic} into something {adj}",
    "{aspect} feels {adv} {adj}",
    "{subj} tells a {adj} story about {topic}",
)
MOVIE_PREFIXES = ("From start to finish,", "In the end,", "For most of its running time,",
                  "On the whole,", "Like many films of its kind,", "As a portrait of {topic2},")
# (joined form, standalone sentence, polarity it fits: None = any, or the sentiment it needs)
MOVIE_TAILS = (
    (", and {aspect2} is {adj2}", "{Aspect2} is {adj2}", None),
    (", although it runs a little long", "It runs a little long", 0),
    (", but {aspect2} is {opp}", "But {aspect2} is {opp}", 0),
    (", which makes it worth a look", "It is worth a look", 1),
    (", which makes it hard to sit through", "It is hard to sit through", -1),
    ("; {aspect2} is {adj2}", "{Aspect2} is {adj2}", None),
    (", and it is a {adj2} film", "It is a {adj2} film", None),
    (" from the opening scene to the final shot", "That holds from start to end", None),
)
MOVIE_LONG_TAIL = (
    ", and even the small roles, the costumes, the music and the many quiet scenes between "
    "the two leads feel {adj2} in a way that few films of recent years have managed to be "
    "while still telling a story that anyone in the audience can follow",
    "Even the small roles and the music feel {adj2}",
)

# --- biographies (ZuCo1 task2/3, ZuCo2) -----------------------------------------------------
FIRST_NAMES = (
    ("Anna", "f"), ("Peter", "m"), ("Clara", "f"), ("Henry", "m"), ("Lena", "f"), ("Oscar", "m"),
    ("Martha", "f"), ("Victor", "m"), ("Edith", "f"), ("Samuel", "m"), ("Ruth", "f"),
    ("Walter", "m"), ("Irene", "f"), ("Felix", "m"), ("Nora", "f"), ("Arthur", "m"),
    ("Helen", "f"), ("Louis", "m"), ("Alice", "f"), ("George", "m"), ("Julia", "f"),
    ("Frank", "m"), ("Vera", "f"), ("Hugo", "m"), ("Greta", "f"), ("Milton", "m"), ("Rosa", "f"),
    ("Tobias", "m"), ("Ada", "f"), ("Conrad", "m"), ("Elena", "f"), ("Ivan", "m"),
    ("Lucia", "f"), ("Emil", "m"), ("Sofia", "f"), ("Daniel", "m"), ("José", "m"),
)
LAST_NAMES = (
    "Halvorsen", "Brandt", "Okafor", "Lindqvist", "Moreau", "Castellan", "Whitcombe", "Pell",
    "Varga", "Dunmore", "Sato", "Kessler", "Albrecht", "Ferreira", "Novak", "Ashby", "Rennick",
    "Tamura", "Osei", "Quill", "Hartwell", "Ibarra", "Sundberg", "Calloway", "Petrov", "Vance",
    "Marlowe", "Eriksen", "Abernathy", "Kovac", "Lindgren", "Mercer", "Oyelaran", "Strand",
    "Fairbairn", "Takeda", "Olander", "Bellamy", "Marić",
)
NATIONALITIES = ("French", "German", "Canadian", "Brazilian", "Norwegian", "Irish", "Mexican",
                 "Polish", "Japanese", "Kenyan", "Australian", "Dutch", "Italian", "Swedish",
                 "Chilean", "Portuguese")
JOBS = ("chemist", "novelist", "architect", "physicist", "composer", "journalist", "engineer",
        "painter", "economist", "surgeon", "astronomer", "diplomat", "photographer", "historian",
        "actor", "lawyer", "mathematician", "banker", "film director", "botanist")
JOB_TITLES = ("president of the {society}", "chief engineer at {company}", "Senator from {state}",
              "mayor of {city}", "editor of the {paper}", "chairman of {company}",
              "director of the {society}", "governor of {state}")
SOCIETIES = ("Royal Society of Kelvale", "Northern Historical Society", "Academy of Fine Arts",
             "National Museum of Science", "Harbor Board", "Society of Civil Engineers")
STATES = ("Ostland", "West Carrow", "New Halden", "Kelvale", "Marsh County", "Upper Tamsin")
PAPERS = ("Morning Courier", "Halden Gazette", "Evening Standard of Kelvale", "Weekly Review")
UNIVERSITIES = ("Northbridge University", "the University of Halden", "Eastmoor College",
                "the Royal Institute of Kelvale", "Saint Aldric College",
                "the Eidgenössische Technische Hochschule", "Westerly Polytechnic",
                "the University of Marrow Bay", "Carrow Conservatory")
FIELDS = ("chemistry", "law", "medicine", "music", "architecture", "economics", "physics",
          "history", "philosophy", "engineering", "painting", "mathematics", "botany")
COMPANIES = ("the Calder Motor Company", "Brightwater Press", "Ostrand Shipping",
             "the Hale Steel Works", "Lumen Records", "Pellam and Sons", "the Northern Rail Company",
             "Ashgrove Studios", "Tidewater Bank", "Meridian Aircraft", "Vossen Chemicals")
PARTIES = ("the Liberal Party", "the Labour Party", "the Conservative Party", "the Green Party",
           "the Democratic Party", "the Republican Party", "the Social Democrats",
           "the Farmers' Union")
AWARDS = ("the Halden Prize", "the Gold Medal of the Royal Society of Kelvale",
          "the Order of King Léopold", "the Ashford Award for Fiction", "the Marlowe Medal",
          "the Northern Cross", "the Grand Prize of the Vessa Festival",
          "an honorary doctorate from Northbridge University")
WORKS = ("{pos} early novels", "{pos} work on crystal structures", "a study of river trade",
         "{pos} designs for the city hall", "{pos} reporting from the front",
         "a series of landscape paintings", "{pos} research on comets",
         'the novel "Salt and Iron"', 'the opera "The Glass Orchard"')
PLACES = ("Lisbon", "Cairo", "Créteil", "Kyoto", "Montreal", "Buenos Aires", "Württemberg",
          "Oslo", "Havana", "Vienna", "Cape Town", "Patagonia", "Zanzibar", "Iceland", "Samarkand")
CITIES = ("Halden", "Kelvale", "Marrow Bay", "Eastmoor", "Port Ostrand", "Carrow", "Tamsin")
HOBBIES = ("chess", "sailing", "gardening", "long walks", "playing the cello", "bird watching",
           "card games", "fishing")
BIO_TOPICS = ("the weather", "old trains", "his childhood", "the war years", "modern art",
              "the harbor", "ancient coins")

RELATIONS = ("AWARD", "EDUCATION", "EMPLOYER", "FOUNDER", "JOB_TITLE", "NATIONALITY",
             "POLITICAL_AFFILIATION", "VISITED", "WIFE")
"""The 9 relation types of docs/protocol.md §labels (ZuCo1 task3 blocks, in this order)."""
ZUCO2_RELATIONS = ("EDUCATION", "EMPLOYER", "FOUNDER", "JOB_TITLE", "NATIONALITY",
                   "POLITICAL_AFFILIATION", "WIFE")
"""One relation per ZuCo2 ``tsr_{i}.csv`` file, i = 1..7."""

BIO_CLAUSES = {
    "AWARD": ("{S} received {award} in {year}", "{S} was awarded {award} for {work}",
              "{S} won {award} for {work} in {year}"),
    "EDUCATION": ("{S} studied {field} at {univ}", "{S} graduated from {univ} in {year}",
                  "{S} earned a degree in {field} from {univ}"),
    "EMPLOYER": ("{S} worked for {company} for {n} years", "{S} was employed by {company} until {year}",
                 "{S} joined the staff of {company} in {year}"),
    "FOUNDER": ("{S} founded {company} in {year}", "{S} established {company} together with {Q}",
                "{S} set up {company} with money from {pos} family"),
    "JOB_TITLE": ("{S} served as {jobtitle}", "{S} became {jobtitle} in {year}",
                  "{S} worked as a {job} in {city}"),
    "NATIONALITY": ("{S} was a {nat} citizen", "{S} became a {nat} citizen in {year}",
                    "{S} was {nat} by birth"),
    "POLITICAL_AFFILIATION": ("{S} was a member of {party}", "{S} joined {party} in {year}",
                              "{S} ran for parliament as a candidate of {party}"),
    "VISITED": ("{S} traveled to {place} in {year}", "{S} spent a long summer in {place}",
                "{S} visited {place} with {Q}"),
    "WIFE": ("{S} married {Q} in {year}", "{S} and {Q} were married in {city}",
             "{S} married the {job} {Q}"),
    "": ("{S} enjoyed {hobby} in the evenings", "{S} often spoke about {topic}",
         "{S} kept a diary for most of {pos} life", "{S} rarely spoke about {pos} father's work",
         "{S} owned a small house near the river"),
}
"""Main clauses per relation ("" = no relation); {S} is the subject (name or pronoun)."""
BOTH_JOB_NATIONALITY = "{S} was a {nat} {job}"
BIO_PREFIXES = ("In {year},", "After the war,", "Early in {pos} career,", "Later in life,",
                "According to {pos} biographer,")
BIO_TAILS = (
    (", where {pron} stayed for {n} years", "{Pron} stayed there for {n} years"),
    (", a decision that surprised {pos} family", "The decision surprised {pos} family"),
    (", shortly after the death of {pos} father", "{Pos} father had died shortly before"),
    (", a long-time friend of {Q}", "{Pron} was a long-time friend of {Q}"),
    ("; {pron} later moved to {city}", "{Pron} later moved to {city}"),
    (" together with {pos} brother", "{Pos} brother was there too"),
)
BIO_LONG_TAIL = (
    ", a period that {pron} later described in a long letter to {pos} brother as the happiest "
    "and most productive time of {pos} whole life, full of new friends, hard work, late dinners "
    "and long walks along the river",
    "{Pron} later called it the happiest time of {pos} life",
)

# --- simple synonym swaps for the lexical-simplification variants --------------------------
SYNONYMS_V0 = {
    "gripping": "exciting", "tedious": "boring", "predictable": "expected", "sluggish": "slow",
    "lifeless": "dead", "stunning": "very pretty", "heartfelt": "sincere", "tiresome": "boring",
    "conventional": "usual", "consistently": "always", "remarkably": "very", "genuinely": "truly",
    "received": "got", "awarded": "given", "graduated": "finished", "established": "started",
    "employed": "hired", "traveled": "went", "married": "wed", "founded": "started",
    "citizen": "national", "documentary": "film", "experience": "time", "offers": "gives",
    "tells": "shows", "spoke": "talked", "owned": "had", "enjoyed": "liked", "rarely": "seldom",
    "member": "part", "candidate": "choice", "decision": "choice", "shortly": "soon",
    "surprised": "shocked", "premise": "idea", "dialogue": "talk", "pacing": "speed",
}
SYNONYMS_V1 = {
    "film": "movie", "picture": "movie", "drama": "movie", "thriller": "movie", "comedy": "movie",
    "dull": "boring", "clumsy": "awkward", "witty": "funny", "vivid": "lively", "hollow": "empty",
    "studied": "learned", "founded": "created", "served": "worked", "visited": "saw",
    "became": "turned into", "joined": "entered", "spent": "had", "earned": "got",
    "story": "tale", "often": "many times", "kept": "wrote", "worked": "had a job",
    "traveled": "made a trip", "married": "got married to", "although": "though",
    "mostly": "largely", "feels": "seems", "watching": "seeing", "established": "formed",
}
