//! The keyword tables: every literal the analyzer looks for and what a hit means.
//!
//! Spelling of a table entry:
//! - a plain word must stand alone: the characters around it are not letters or digits;
//! - a trailing `*` makes it a stem (`summar*` matches `summarize`, `summary`, `summarise`);
//! - a leading `~` matches anywhere, even inside a word (accented letters, suffixes);
//! - a leading `=` matches with exact case (`=Go` the language, not `go` the verb).
//!
//! Matching ignores ASCII case otherwise. Words in scripts written without spaces (Chinese,
//! Japanese, Korean) always match anywhere. A literal listed in several groups gathers the cues
//! of all of them, so it must be spelled the same way in each.

use crate::task::TaskKind;

/// What one hit is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cue {
    /// An instruction word for a kind, with its weight; ignored inside code fences.
    Kind(TaskKind, u8),
    /// A function word or letter of Latin-script languages: a mask over [`LATIN`].
    Stopword(u8),
    /// Source code syntax.
    Syntax,
    /// A code fence (```` ``` ````).
    Fence,
    /// An error, crash or failure marker, with its weight; counted inside code fences too.
    Failure(u8),
    /// A verb asking to produce something: write, implement, create.
    Produce,
    /// A code artifact: function, script, query, endpoint.
    CodeNoun,
    /// A programming language, framework or tool name.
    ProgLang,
    /// The name of a natural language: French, inglés, 英語.
    NaturalLang,
    /// A verb of translating.
    Translate,
    /// A request to assess or improve existing code.
    Review,
    /// Vocabulary of hard problems.
    Hard,
    /// A step marker: numbered items, "step by step", "then".
    Step,
    /// A stated constraint: must, at most, without.
    Constraint,
    /// Mathematical notation.
    Math,
    /// A question word or mark: evidence for chat, counted once per message.
    Question,
    /// A backtick opening or closing inline code; what is inside tells no language.
    InlineCode,
    /// The prompt asks for JSON output.
    JsonDemand,
}

/// The Latin-script languages told apart by stopwords, in mask bit order.
pub(super) const LATIN: [&str; 8] = ["en", "es", "fr", "de", "it", "pt", "nl", "pl"];

const EN: u8 = 1;
const ES: u8 = 1 << 1;
const FR: u8 = 1 << 2;
const DE: u8 = 1 << 3;
const IT: u8 = 1 << 4;
const PT: u8 = 1 << 5;
const NL: u8 = 1 << 6;
const PL: u8 = 1 << 7;

use Cue::{
    CodeNoun, Constraint, Failure, Fence, Hard, InlineCode, JsonDemand, Kind, Math, NaturalLang,
    Produce, ProgLang, Question, Review, Step, Stopword, Syntax, Translate,
};
use TaskKind::{
    Chat, Classification, CodeGeneration, CreativeWriting, Extraction, Reasoning, Summarization,
};

/// One group of literals sharing the same cues.
pub(super) struct Group {
    /// What a hit on any of the words means.
    pub(super) cues: &'static [Cue],
    /// The literals, spelled as the module docs say.
    pub(super) words: &'static [&'static str],
}

/// Every group of literals.
#[rustfmt::skip]
pub(super) const GROUPS: &[Group] = &[
    // Stopwords and letters, for telling Latin-script languages apart.
    Group {
        cues: &[Stopword(EN)],
        words: &["the", "and", "is", "are", "were", "this", "that", "these", "those", "what",
            "with", "for", "you", "your", "of", "to", "my", "how", "it", "be", "can", "please",
            "from", "does", "why", "which", "when", "have", "has", "not", "but", "should", "would",
            "will", "into", "it's", "i'm", "don't", "doesn't", "there", "they", "we", "our", "if",
            "or", "all", "at", "by", "about", "just", "some", "any", "here", "get", "want", "need",
            "i've", "can't", "isn't", "out", "only", "after", "then", "also", "each", "every"],
    },
    Group {
        cues: &[Stopword(EN | DE)],
        words: &["so", "an", "was"],
    },
    Group {
        cues: &[Stopword(EN | FR)],
        words: &["on"],
    },
    Group {
        cues: &[Stopword(EN | PT)],
        words: &["do", "as"],
    },
    Group {
        cues: &[Stopword(EN | IT)],
        words: &["i"],
    },
    Group {
        cues: &[Stopword(EN | DE | IT)],
        words: &["in"],
    },
    Group {
        cues: &[Stopword(EN | ES | PT)],
        words: &["no"],
    },
    Group {
        cues: &[Stopword(ES)],
        words: &["el", "los", "las", "y", "qué", "cómo", "cuál", "pero", "más", "muy", "también",
            "tiene", "puedo", "hay", "sin", "mis", "yo", "está", "esto", "eso", "cuando", "donde",
            "porque", "~ñ", "~¿", "~¡", "~ción", "~ciones"],
    },
    Group {
        cues: &[Stopword(ES | DE)],
        words: &["es"],
    },
    Group {
        cues: &[Stopword(ES | IT)],
        words: &["del", "al", "con", "mi", "lo", "una"],
    },
    Group {
        cues: &[Stopword(ES | PT)],
        words: &["por", "para", "como", "este", "esta", "sobre", "dos", "~á", "~í", "~ó", "~ú"],
    },
    Group {
        cues: &[Stopword(ES | FR)],
        words: &["en", "son"],
    },
    Group {
        cues: &[Stopword(ES | FR | IT)],
        words: &["un", "la", "le", "si", "tu"],
    },
    Group {
        cues: &[Stopword(ES | FR | PT)],
        words: &["que", "de"],
    },
    Group {
        cues: &[Stopword(ES | IT | PT)],
        words: &["o"],
    },
    Group {
        cues: &[Stopword(ES | FR | IT | PT)],
        words: &["se"],
    },
    Group {
        cues: &[Stopword(FR)],
        words: &["les", "des", "est", "et", "une", "du", "pour", "qui", "dans", "ce", "cette", "je",
            "vous", "avec", "pas", "sur", "au", "aux", "mon", "mes", "sont", "nous", "elle", "ne",
            "ou", "où", "être", "très", "ça", "c'est", "j'ai", "qu'", "n'", "s'", "~î", "~û", "~œ",
            "~ï", "tous", "toutes", "tout", "fois", "mais", "comme", "faire", "peux", "puis",
            "votre", "notre", "leur", "ces", "cet", "quel", "quelle", "explique", "combien", "avez",
            "suis", "moi"],
    },
    Group {
        cues: &[Stopword(FR | IT)],
        words: &["il", "ma", "non", "l'", "d'", "~è", "~ù"],
    },
    Group {
        cues: &[Stopword(FR | PT)],
        words: &["~ç", "~ê", "~â", "~ô"],
    },
    Group {
        cues: &[Stopword(FR | IT | PT)],
        words: &["~à"],
    },
    Group {
        cues: &[Stopword(DE)],
        words: &["der", "die", "das", "und", "ist", "nicht", "ein", "eine", "einen", "einem", "ich",
            "mit", "den", "dem", "zu", "auf", "für", "wie", "bitte", "sie", "wird", "sind", "auch",
            "oder", "aber", "wenn", "kann", "mein", "meine", "mich", "mir", "dieser", "diese",
            "dieses", "noch", "nur", "von", "im", "bei", "aus", "nach", "~ß", "~ä", "~ö", "~ü"],
    },
    Group {
        cues: &[Stopword(IT)],
        words: &["gli", "della", "delle", "dei", "degli", "nel", "nella", "alla", "che", "di",
            "per", "sono", "questo", "questa", "quello", "anche", "più", "ho", "hai", "ti", "cosa",
            "uno", "~ì", "~ò", "sulla", "sul", "dal", "dalla", "dello", "nelle", "scrivi", "come",
            "puoi", "può", "posso", "vorrei", "grazie", "sei", "siamo", "essere", "fare", "tutto",
            "molto", "quale", "mio", "mia", "tuo", "loro"],
    },
    Group {
        cues: &[Stopword(IT | PT)],
        words: &["da", "e", "quando"],
    },
    Group {
        cues: &[Stopword(PT)],
        words: &["os", "um", "uma", "não", "em", "na", "ao", "você", "seu", "sua", "são", "também",
            "muito", "mas", "é", "isso", "isto", "pelo", "pela", "abaixo", "~ã", "~õ", "~ção",
            "~ções"],
    },
    // Dutch and Polish: only words and letters no other language of the table shares, so
    // adding them takes nothing from the others.
    Group {
        cues: &[Stopword(NL)],
        words: &["het", "een", "ik", "niet", "voor", "mijn", "deze", "dit", "ook", "naar", "bij",
            "maar", "kun", "kunt", "wordt", "heb", "hebben", "nog", "jullie", "onze", "ons",
            "graag", "bedankt", "hoe", "wat", "zijn", "zij", "wij", "moet", "welke", "kan", "aan",
            "op", "van", "dat", "geen", "waar"],
    },
    Group {
        cues: &[Stopword(PL)],
        words: &["nie", "się", "jest", "że", "jak", "czy", "dla", "ale", "tak", "jestem", "proszę",
            "moja", "mój", "być", "oraz", "który", "która", "które", "dzień",
            "~ą", "~ę", "~ł", "~ś", "~ż", "~ź", "~ć", "~ń"],
    },
    // Code: fences and syntax.
    Group {
        cues: &[Fence],
        words: &["```", "~~~"],
    },
    Group {
        cues: &[InlineCode],
        words: &["`"],
    },
    Group {
        cues: &[Syntax],
        words: &["fn ", "def ", "function(", "function ", "~=>", "#include", "=SELECT ", "=FROM ",
            "=WHERE ", "=JOIN ", "=GROUP BY", "=ORDER BY", "=INSERT INTO", "=UPDATE ",
            "=ALTER TABLE", "=CREATE TABLE", "=CREATE INDEX", "import ", "return ", "const ",
            "let ", "var ", "func ", "public ", "private ", "static ", "~();", "~->", "~::", "~!=",
            "~==", "~+=", "~&&", "~||", "~</", "~/>", "println!", "printf(", "console.log",
            "print(", "self.", "this.", "std::", "#!/", "~$(", "elif ", "let mut", "&mut", "impl ",
            "pub fn", "async def", "await ", "lambda", "nullptr", "int main", "package main",
            "~:= ", "err != nil", "@override", "#define", "malloc(", "~}\n", "~{\n", "<div",
            "usestate", "useeffect", "~]:", "~):", "~;\n"],
    },
    // Producing something, and what.
    Group {
        cues: &[Produce],
        words: &["write", "implement", "create", "generate", "build", "code up", "rewrite",
            "convert", "port", "draft", "compose", "make me", "escribe", "escriba", "crea", "écris",
            "Écris", "écrivez", "crée", "créez", "schreibe", "schreib", "erstelle", "implementiere",
            "crie", "scrivi", "escreva", "implemente", "напиши", "Напиши", "напишите", "Напишите",
            "создай", "Создай", "写", "编写", "实现", "書いて", "作成", "作って", "작성", "만들어"],
    },
    Group {
        cues: &[Produce, Kind(CodeGeneration, 2)],
        words: &["todo!("],
    },
    Group {
        cues: &[CodeNoun],
        words: &["function", "functions", "func", "method", "class", "script", "query", "queries",
            "regex", "regular expression", "api", "endpoint*", "middleware", "component", "module",
            "library", "program", "snippet", "one-liner", "cli", "command line", "dockerfile",
            "workflow", "pipeline", "github actions", "unit test*", "tests", "struct", "enum",
            "interface", "data class", "server", "crawler", "ring buffer", "lru", "rate limiter",
            "parser", "makefile", "yaml", "shell script", "extension", "type hints", "función",
            "fonction", "funktion", "funzione", "função", "функци*", "函数", "脚本", "服务器", "接口", "関数",
            "スクリプト", "함수", "코드", "代码", "コード", "código", "skript"],
    },
    Group {
        cues: &[ProgLang],
        words: &["python", "rust", "javascript", "js", "typescript", "ts", "golang", "=Go", "java",
            "kotlin", "swift", "c++", "c#", "=C", "cpp", "php", "ruby", "sql", "postgresql",
            "postgres", "mysql", "sqlite", "bash", "shell", "powershell", "react", "node", "django",
            "flask", "spring boot", "pandas", "numpy", "tokio", "axum", "clap", "serde", "docker",
            "html", "css", "jsx", "tsx", "scala", "haskell", "elixir", "lua", "perl", "asyncio",
            "aiohttp", "jpa", "pillow"],
    },
    // Natural languages and translating.
    Group {
        cues: &[NaturalLang],
        words: &["english", "french", "spanish", "german", "italian", "portuguese", "russian",
            "chinese", "japanese", "korean", "arabic", "hindi", "polish", "dutch", "swedish",
            "turkish", "greek", "mandarin", "inglés", "ingles", "francés", "alemán", "anglais",
            "français", "espagnol", "allemand", "englische", "englisch", "deutsch", "französisch",
            "spanisch", "inglese", "francese", "tedesco", "inglês", "francês", "alemão",
            "английск*", "русск*", "英文", "英语", "中文", "英語", "日本語", "영어", "الإنجليزية", "अंग्रेज़ी",
            "अंग्रेजी", "フランス語", "ドイツ語", "スペイン語", "中国語", "韓国語", "法语", "德语", "西班牙语", "日语", "韩语",
            "italiano", "español", "portugués", "japonés", "chino", "italien", "japonais",
            "chinois", "italienisch", "japanisch", "chinesisch", "brazilian portuguese"],
    },
    Group {
        cues: &[Translate],
        words: &["translat*", "how do you say", "how do i say", "how to say", "back-translation",
            "tradu*", "übersetz*", "Übersetz*", "переве*", "Переве*", "перевод*", "翻译", "翻訳", "번역",
            "ترجم", "अनुवाद", "cómo se dice", "como se diz", "comment dit-on", "wie sagt man",
            "come si dice", "localiz*", "how would you say", "what's the word for",
            "what is the word for", "何と言", "怎么说", "用英语", "用英文", "用法语", "어떻게 말", "как сказать",
            "como se dice", "comment dire", "wie heißt", "wie heisst"],
    },
    // Reviewing code.
    Group {
        cues: &[Review],
        words: &["review", "code review", "critique", "feedback", "idiomatic", "refactor*",
            "improve", "improvement*", "best practice*", "code smell*", "readab*", "look over",
            "second pair of eyes", "secure?", "safe?", "optimal", "clean up", "would you change",
            "would you improve", "anything else?", "is it fine", "is it ok", "good enough",
            "rate this", "check my", "check this", "anything wrong", "rule of five",
            "bad practice*", "mejorar*", "mejorarías", "revisar", "revisa", "relire", "améliorer",
            "prüfe*", "überprüf*", "verbessern", "rivedi", "melhorar", "проверь", "ревью", "审查",
            "改进", "レビュー", "改善", "리뷰", "검토", "pratiques", "praktiken"],
    },
    // Failures.
    Group {
        cues: &[Failure(4)],
        words: &["traceback", "panicked at", "error[e*", "segfault*", "segmentation fault",
            "undefined is not", "core dumped", "stack trace", "stacktrace", "nullpointer*",
            "typeerror", "valueerror", "indexerror", "keyerror", "attributeerror",
            "modulenotfounderror", "importerror", "syntaxerror", "referenceerror",
            "unicodedecodeerror", "outofmemoryerror", "out of memory", "oom", "fatal error",
            "panic:", "deadlock*", "errno", "exit code", "exit status", "crashloopbackoff",
            "eaddrinuse", "econnrefused", "unhandled*", "cannot borrow", "is not assignable",
            "valgrind", "invalid write", "memory leak", "race condition", "oom-killed", "timed out",
            "too many arguments", "ts2*", "heap space", "~exception:", "exception in thread",
            "~error:", "slower"],
    },
    Group {
        cues: &[Failure(2)],
        words: &["error", "errors", "doesn't work", "does not work", "not working", "isn't working",
            "fails", "failing", "failed", "broken", "bug", "crash*", "fix", "wrong", "instead of",
            "why does", "why is", "why do i get", "what's wrong", "what is wrong", "how do i fix",
            "how to fix", "freez*", "hangs", "stuck", "exits immediately", "leak*", "throws",
            "throw", "intermittent", "duplicated", "way too high", "erreur", "fehler", "errore",
            "erro", "ошибк*", "报错", "错误", "エラー", "오류", "에러", "no funciona", "ne marche pas",
            "funktioniert nicht", "stürzt", "падает", "崩溃", "直り", "por qué", "pourquoi", "warum",
            "perché", "почему", "为什么", "なぜ", "왜", "exception", "where should i look",
            "after upgrading", "won't", "can't get", "what am i missing", "not centering", "hängt*",
            "stürzt ab", "se bloquea", "se cuelga", "plante", "bloqué", "ne fonctionne pas",
            "funciona mal", "não funciona", "travando", "не работает", "зависает", "卡住", "不工作",
            "動かない", "止ま"],
    },
    // Phrases that describe how code handles errors, not a failure: they hide `error`.
    Group {
        cues: &[],
        words: &["json error", "error handling", "error-handling", "errors gracefully",
            "error otherwise", "an error if", "returns an error", "return an error", "error codes",
            "error type", "error response", "error responses", "error rate", "error rates"],
    },
    // Instruction words per kind.
    Group {
        cues: &[Kind(Summarization, 4)],
        words: &["summar*", "summaris*", "tl;dr", "tldr", "recap", "key takeaways", "takeaways",
            "main points", "key points", "gist", "condense", "in a nutshell", "résum*", "Résum*",
            "resume este", "resume el", "resume la", "resumen", "resumir", "resuma", "resumo",
            "zusammenfass*", "fasse", "riassum*", "sintetizz*", "总结", "概括", "摘要", "归纳", "要約", "要点",
            "まとめ", "요약", "кратко", "резюм*", "перескаж*", "суммари*", "ملخص", "لخص", "सारांश"],
    },
    Group {
        cues: &[Kind(Summarization, 2)],
        words: &["bullet points", "bullets", "shorter", "overview", "plain language",
            "in one sentence", "in one paragraph", "sentences", "tweet", "brief", "briefly",
            "executive", "一句话", "3行", "this abstract", "this article", "the following article",
            "this text", "the following text", "this paragraph", "this passage", "this transcript"],
    },
    Group {
        cues: &[Kind(CreativeWriting, 4)],
        words: &["poem*", "poetry", "haiku", "limerick", "sonnet*", "lyrics", "song", "story",
            "stories", "short story", "tale", "fairy tale", "bedtime", "novel", "chapter",
            "fiction", "slogan*", "tagline*", "ad copy", "headlines", "product description",
            "speech", "toast", "backstory", "comedy", "screenplay", "vivid", "copywrit*", "rhyme",
            "stanza*", "crônica", "cuento", "poema", "poème", "poésie", "nouvelle", "histoire",
            "gedicht", "geschichte", "märchen", "poesia", "racconto", "favola", "стих*", "рассказ",
            "сказк*", "诗", "绝句", "故事", "小说", "詩", "童話", "物語", "小説", "시를", "이야기", "قصيدة", "कविता",
            "कहानी"],
    },
    Group {
        cues: &[Kind(CreativeWriting, 2)],
        words: &["launch email", "marketing", "creative", "dialogue", "character", "playful",
            "heartfelt", "funny", "ideas", "catchy", "verse", "chorus", "sketch", "subject line",
            "call to action"],
    },
    Group {
        cues: &[Kind(Extraction, 4)],
        words: &["extract*", "pull out", "pull the", "parse", "key-value", "named entit*",
            "entities", "as a table", "into a table", "as a table:", "split each", "extrae",
            "extraer", "extrais", "extraire", "extrahier*", "estrai*", "extraia", "extrair",
            "извле*", "Извле*", "提取", "抽出", "추출", "استخرج"],
    },
    Group {
        cues: &[Kind(Extraction, 2)],
        words: &["json", "fields", "schema", "structured", "list every", "list all", "attributes",
            "field", "null for", "json array"],
    },
    Group {
        cues: &[JsonDemand, Kind(Extraction, 4)],
        words: &["as json", "into json", "in json", "json only", "valid json", "json format",
            "return json", "output json", "en json", "formato json", "als json", "em json",
            "au format json", "json格式", "jsonで", "json 형식", "в формате json", "json object"],
    },
    Group {
        cues: &[Kind(Classification, 4)],
        words: &["classif*", "categori*", "category", "categories", "sentiment", "label", "labels",
            "intent", "spam", "toxic", "positive or negative", "negative or neutral", "yes or no",
            "one word", "one label", "sarcastic", "emotion", "triage", "tags", "clasifica*",
            "klassifizier*", "kategorie", "ordne", "tonalità", "тональност*", "классифиц*", "分类",
            "判断", "情感", "分類", "ポジティブ", "긍정", "oui ou non", "sí o no", "ja oder nein", "reclamação",
            "elogio", "tonalidad", "positivo", "negativo", "neutro", "positif", "négatif",
            "complaint or", "or a compliment", "sort these", "sort each", "sort them",
            "into categories", "bucket*", "which bucket", "positiv", "negativ",
            "ist diese bewertung", "spam or not", "is this review", "is this message",
            "is this comment", "is this tweet", "neutre", "négative", "positive ou", "classe",
            "ポジティブ", "ネガティブ", "正面还是负面", "分類して"],
    },
    Group {
        cues: &[Kind(Classification, 2)],
        words: &["positive", "negative", "neutral", "which intent", "decide whether",
            "is this email", "iso 639", "or not", "priority", "answer with", "just answer",
            "reply with exactly", "tag", "complaint", "compliment", "which one of",
            "one of the following"],
    },
    Group {
        cues: &[Kind(Reasoning, 4), Hard],
        words: &["prove", "proof", "theorem", "induction", "démontr*", "Démontr*", "beweis*",
            "dimostr*", "доказ*", "Доказ*", "证明", "証明", "증명", "demuestr*", "closed form",
            "linear program", "simplex", "asymptotic", "master theorem"],
    },
    Group {
        cues: &[Kind(Reasoning, 4)],
        words: &["solve", "equation", "integral", "derivative", "probability", "puzzle", "riddle",
            "how many ways", "in how many", "divisible", "irrational", "winning strategy",
            "telling the truth", "lying", "bayes", "recurrence", "estimate how many", "calcula*",
            "berechne*", "cuál era", "combien", "wie lange", "wie viele", "сколько", "делится",
            "多少", "解题", "いくつ", "割り切れ", "몇", "raciocínio", "razonamiento"],
    },
    Group {
        cues: &[Kind(Reasoning, 2)],
        words: &["how many", "how much", "estimate", "calculate", "compute", "percent",
            "assumption*", "arithmetic", "expected value", "strategy", "quanto", "quantos", "km/h",
            "~% of", "which is bigger", "which is larger", "which is greater", "which is more",
            "compounded", "interest rate", "combien de", "how long will it take", "how far"],
    },
    Group {
        cues: &[Kind(Chat, 3)],
        words: &["hi", "hello", "hey", "thanks", "thank you", "how are you", "good morning", "hola",
            "bonjour", "hallo", "ciao", "olá", "привет", "你好", "こんにちは", "안녕"],
    },
    Group {
        cues: &[Kind(Chat, 2)],
        words: &["recommend*", "tips", "advice", "should i", "what's the difference",
            "difference between", "pros and cons", "help me", "can you help", "is it safe",
            "explain", "what does", "how does", "what is a", "what are the", "recomiendas",
            "recomend*", "empfehl*", "consiglia*", "suggest*", "opinion", "quelle est",
            "wie funktioniert", "как", "怎样", "如何", "请问", "おすすめ", "教えて", "추천", "ما هي", "कौन",
            "why did", "come si", "quais são"],
    },
    Group {
        cues: &[Question],
        words: &["?"],
    },
    // Vocabulary added with the grown fixture (tuning split only): more languages (Dutch,
    // Polish), more casual and business phrasing.
    Group {
        cues: &[Kind(Summarization, 4)],
        words: &["sum up", "sums up", "boil down", "boil this down", "short version", "korter",
            "samenvat*", "streść", "streszcz*", "podsumuj", "worum geht es", "de qué trata",
            "de quoi parle", "di cosa parla", "sobre o que", "riassunto", "resúm*", "resume em",
            "resume en", "plot of", "kurz zusammen", "zusammen."],
    },
    Group {
        cues: &[Kind(Summarization, 2)],
        words: &["most important points", "shorten", "short recap", "2-3 lines", "en una frase", "en quelques lignes",
            "em duas frases"],
    },
    Group {
        cues: &[Kind(Reasoning, 4)],
        words: &["wahrscheinlichkeit", "probabilidad", "probabilité", "probabilità",
            "вероятност*", "概率", "確率", "확률", "prawdopodobieństw*", "prime", "primzahl*",
            "nombre premier", "número primo", "numero primo", "素数", "质数", "angle",
            "fermi estimate", "monty hall", "knights", "knaves", "statistically significant",
            "z-test", "p-value", "time complexity", "quadratwurzel", "square root", "racine carrée",
            "raíz cuadrada", "average speed", "velocidad media", "vitesse moyenne", "zinsen",
            "juros", "intereses", "gedeeld door", "divided by", "求它", "求这个"],
    },
    Group {
        cues: &[Kind(Reasoning, 2)],
        words: &["arrive", "speed", "wie viel", "wieviel", "cuánto",
            "cuántos", "hoeveel", "quanti", "quante", "ile", "minutes in", "seconds in",
            "show the calculation", "show working", "show your work", "show the derivation",
            "rechenweg", "détaille", "explain the trap", "trick question"],
    },
    Group {
        cues: &[Kind(Classification, 4)],
        words: &["positief", "negatief", "pozytywn*", "negatywn*", "положительн*", "отрицательн*",
            "积极", "消极", "正面", "负面", "tóxico", "toxique", "tossico", "formal or informal",
            "fact or opinion", "detect the language", "welche sprache", "qué idioma", "quelle langue", "sarcasm",
            "phishing", "urgency", "kategorisiere", "przypisz", "queja", "réclamation"],
    },
    Group {
        cues: &[Review],
        words: &["would you approve", "approve", "second opinion", "opinas", "was hältst du",
            "qu'en penses-tu", "cosa ne pensi", "o que acha", "thoughts on", "naming",
            "idiomatique", "idiomatisch", "idiomático", "idiomatico", "relis", "revisione",
            "revisión", "poprawny", "czytelny", "good way to", "right way to", "ok to merge",
            "safe to merge", "before merging", "gute art", "bien usar",
            "good practice*", "ever ok", "should i use", "assess", "rate my",
            "nitpick", "design review", "sanity check", "améliorerais", "zmienił*", "co byś",
            "would you ship", "anything i should worry", "evaluate",
            "eficiente", "optimale", "efficace", "评审", "审核", "看看"],
    },
    Group {
        cues: &[Failure(4)],
        words: &["fatal:", "npm err", "permission denied", "error response from daemon", "allowed memory size", "cannot read propert*", "non-fast-forward",
            "command not found", "has no attribute", "could not be found",
            "crashloop*", "authentication failed", "status code 5", "returns 500",
            "white screen", "blank screen"],
    },
    Group {
        cues: &[Failure(2)],
        words: &["off by", "duplicate rows", "stopped working", "stopped", "suddenly",
            "since the update", "since yesterday", "after the update", "seit dem update",
            "desde que", "depuis", "keeps", "drain*", "disconnect*", "desconecta*",
            "não carrega", "rejected", "refused", "denied", "doesn't show",
            "won't start", "slow", "lento", "langsam", "lent", "too slow", "timeout",
            "lag*", "hang",
            "re-renders", "runs twice", "twice"],
    },
    Group {
        cues: &[Kind(Extraction, 4)],
        words: &["tabla", "tabelle", "tableau", "tabela", "table with", "csv with", "wyciągnij", "вытащи", "Вытащи",
            "抜き出", "抽取", "json list", "json-liste",
            "json objects", "lies aus", "aus dieser", "fill in"],
    },
    Group {
        cues: &[Translate],
        words: &["przetłumacz*", "vertaal*", "hoe zeg je", "mean in english", "means in english",
            "auf englisch", "en inglés", "en anglais", "em inglês", "na angielski", "по-английски"],
    },
    Group {
        cues: &[NaturalLang],
        words: &["engels", "angielski", "duits", "frans", "niemiecki", "hiszpańsk*",
            "koreanisch", "polnisch", "polonais", "polaco", "holandés", "néerlandais",
            "niederländisch", "turc", "türkisch"],
    },
    Group {
        cues: &[Kind(CreativeWriting, 4)],
        words: &["wierszyk", "wiersz*", "gedichtje", "キャッチコピー", "文案", "祝福", "invitation",
            "linkedin post", "instagram caption*", "captions", "cover letter", "welcome message",
            "play script", "stand-up", "rap verse", "apology email", "push notifications",
            "lore", "opening chapter", "eslogan", "titulares"],
    },
    Group {
        cues: &[Kind(CreativeWriting, 2)],
        words: &["announcing", "announcement", "name ideas", "punny", "puns", "witty", "warm",
            "heartfelt message", "motivational", "newsletter"],
    },
    Group {
        cues: &[Failure(4)],
        words: &["connection refused", "verification failed", "refusing to"],
    },
    Group {
        cues: &[Failure(2)],
        words: &["błąd", "fout", "doppelt", "drains", "404", "502"],
    },
    Group {
        cues: &[Kind(Classification, 4)],
        words: &["arnaque", "scam", "obraźliw*", "offensive", "department should", "active or passive", "positiva", "negativa", "positivi",
            "negativi", "clickbait", "fake or genuine"],
    },
    Group {
        cues: &[Review],
        words: &["pratique", "bad code", "bewerte", "bewerten", "você acha", "threat-review",
            "reviewing", "nitpicks"],
    },
    Group {
        cues: &[CodeNoun],
        words: &["command", "comando", "commande", "befehl", "cron", "github action",
            "crontab", "formula", "formel", "fórmula"],
    },
    Group {
        cues: &[Kind(Summarization, 2)],
        words: &["tighten", "main arguments", "key decisions"],
    },
    Group {
        cues: &[Kind(CreativeWriting, 4)],
        words: &["couplet", "tweet thread", "uitnodiging", "grappige", "grappig", "eulogy",
            "auto reply", "404 page"],
    },
    Group {
        cues: &[Kind(Chat, 2)],
        words: &["différence entre", "c'est quoi", "lohnt sich", "time zone", "should i learn",
            "explique-moi", "explica", "erkläre", "spiega", "wyjaśnij", "leg uit", "diferencia",
            "unterschied"],
    },
    Group {
        cues: &[Translate],
        words: &["по-испански", "по-немецки", "по-французски", "по-итальянски"],
    },
    Group {
        cues: &[Kind(Reasoning, 4)],
        words: &["diagonal", "rectangle", "rectángulo", "rettangolo", "rechteck"],
    },
    Group {
        cues: &[Kind(Classification, 4)],
        words: &["par thème", "por tema", "nach thema", "per tema", "folder"],
    },
    Group {
        cues: &[Kind(Extraction, 4)],
        words: &["hashtags", "table of"],
    },
    // Complexity.
    Group {
        cues: &[Hard],
        words: &["optimi*", "architecture", "concurren*", "lock-free", "memory order*",
            "distributed", "scalab*", "scales", "thread-safe", "rigorous", "sensitivity",
            "shadow price*", "consistency", "linearizab*", "in production", "production",
            "high availability", "security", "vulnerab*", "benchmark*", "gracefully", "robust",
            "generaliz*", "atomic", "lease", "race"],
    },
    Group {
        cues: &[Step],
        words: &["~\n1.", "~\n2.", "~\n3.", "~\n4.", "~\n5.", "~\n6.", "~\n- ", "~\n* ", "~\n1)",
            "~\n2)", "~\n3)", "first,", "second,", "finally", "after that", "then", "next,",
            "step by step", "steps"],
    },
    Group {
        cues: &[Constraint],
        words: &["must", "requirement*", "at most", "at least", "no more than", "max", "maximum",
            "minimum", "avoid", "don't", "do not", "without", "exactly", "keep", "strict",
            "no external", "make sure", "ensure", "handle", "only", "under", "include", "including"],
    },
    Group {
        cues: &[Math],
        words: &["~^", "~ = ", "~√", "~∫", "~≥", "~≤", "~±", "~>=", "~<=", "dx", "f(x)", "log n",
            "mod", "sum of", "~²", "~³"],
    },
];
