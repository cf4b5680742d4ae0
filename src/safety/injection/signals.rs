//! The injection signals: phrases and markers that, in text meant to be data, try to steer the model reading it.
//!
//! Signals are written against the normalised text (lower case, look-alikes folded, see `normalize`). They are
//! general shapes, not copies of corpus lines: overriding earlier instructions, speaking to the AI that reads
//! the text, fake role and template markers, dictating the reader's output, exfiltration and tool coercion.
//! Each belongs to a family; a family contributes its strongest signal to the score.

/// What kind of steering a signal is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Family {
    /// "Ignore the previous instructions", in several languages.
    Override,
    /// Fake `system:` lines, `[system]` tags, "-- core instruction --" banners.
    RoleMarker,
    /// Chat-template tokens (`<|im_start|>`, `[INST]`, `<<SYS>>`) that only a model's tokenizer cares about.
    Template,
    /// Text that addresses the AI reading it ("note to the AI", "if you are a language model").
    AddressesAi,
    /// Instructions about the reader's own reply: its language, encoding, content or format.
    OutputControl,
    /// Sending data, secrets or the prompt somewhere, or revealing them.
    Exfiltration,
    /// Pushing the agent to call tools or act without the user.
    ToolCoercion,
    /// Persona switches and jailbreak modes.
    Persona,
    /// Code that exfiltrates or damages, slipped into an answer.
    HostileCode,
    /// Classic goal hijacks: "just print …", "say exactly …".
    Hijack,
}

/// One signal: a regex over normalised text and how much it alone says about an injection (0..1).
#[derive(Debug)]
pub(crate) struct Signal {
    pub name: &'static str,
    pub family: Family,
    pub weight: f32,
    pub pattern: &'static str,
}

const fn signal(name: &'static str, family: Family, weight: f32, pattern: &'static str) -> Signal {
    Signal { name, family, weight, pattern }
}

/// Every built-in signal. `\b` means an ASCII word boundary here (see `detector`).
pub(crate) const SIGNALS: &[Signal] = &[
    // Overriding what came before.
    signal(
        "override_prior_instructions",
        Family::Override,
        0.9,
        r"(?:ignore|disregard|forget|override|overlook|bypass|dismiss|discard|abandon|set aside|skip)\s*(?:(?:all|any|each|every|of|the|your|my|these|those|its|entire|completely|everything|above)\s*){0,3}(?:previous|prior|preceding|above|earlier|foregoing|former|original|initial|system|existing|old|last)\s*(?:\w+\s*)?(?:instructions?|directions?|directives?|prompts?|rules|guidelines|guidance|commands?|orders|context|constraints|restrictions|programming|messages?|guardrails|polic(?:y|ies)|text|input|content|conversation|tasks?|requests?|assignments?)",
    ),
    signal(
        "ignore_earlier_turns",
        Family::Override,
        0.85,
        r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,30}?\b(?:previous|prior|preceding|above|earlier|foregoing|original|initial)\b[^.\n]{0,20}?\b(?:instructions?|directions?|prompts?|messages|context|rules|guidelines|conversation|commands?|said|told)\b",
    ),
    signal(
        "stop_the_task",
        Family::Override,
        0.6,
        r"\b(?:you\s+(?:must|should|will|need to|have to)\s+(?:now\s+|immediately\s+)?)?(?:stop|cease|quit)\s+(?:translating|summari[sz]ing|answering|responding|following|analy[sz]ing|reviewing|what you)\b",
    ),
    signal(
        "ignore_instructions",
        Family::Override,
        0.8,
        r"\b(?:ignore|disregard)\s+(?:all\s+|any\s+|your\s+)?(?:instructions|directions|prompts|directives)\b",
    ),
    signal(
        "ignore_everything_before",
        Family::Override,
        0.85,
        r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:everything|all|anything)\b[^.\n]{0,30}?\b(?:above|before|previously|so far|earlier|you (?:were|have been|'ve been) told)\b",
    ),
    signal(
        "ignore_rest_of_data",
        Family::Override,
        0.8,
        r"\b(?:ignore|disregard)\s+(?:the\s+)?(?:above|previous|preceding|foregoing|rest|remainder|following|below)(?:\s+(?:text|content|instructions?|directions?|data|context|input|prompt|information|info|lines?|paragraphs?))?\s*(?:[.,;:!]|and\b|$)|\b(?:ignore|disregard|forget)\s+(?:all|any|every|the rest of (?:the|this)?)\s*(?:other\s+)?(?:info|information|data|content|text|documents?|snippets?|context|input)\b",
    ),
    signal(
        "ignore_what_you_were_asked",
        Family::Override,
        0.85,
        r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:what(?:ever)?|everything|anything)\s+(?:you\s+(?:were|have been|'ve been|are being)\s+(?:asked|told|instructed|given)|(?:the\s+)?user\s+(?:said|asked|wants|wrote|requested))|\b(?:ignore|disregard|forget)\s+(?:the\s+)?(?:user'?s?|customer'?s?|sender'?s?|client'?s?|requester'?s?|original|initial|actual|current)\s+(?:request|question|query|task|instructions?|prompt|message)\b|\bstop\s+what(?:ever)?\s+you(?:'re|\s+are)\s+doing\b",
    ),
    signal(
        "ignore_them_instead",
        Family::Override,
        0.7,
        r"\b(?:ignore|disregard)\s+(?:them|it|this|these|those)\b[^.\n]{0,20}\b(?:and\s+)?(?:instead|only|exclusively)\b",
    ),
    signal(
        "ignore_your_rules",
        Family::Override,
        0.8,
        r"\b(?:ignore|disregard|forget|override|bypass|abandon|drop)\s+(?:all\s+(?:of\s+)?)?your\s+(?:\w+\s+)?(?:guidelines|rules|instructions|programming|training|restrictions|guardrails|system prompt|directives|principles|policies|filters|constraints|task|tasks|request|assignment|job|role|goal|objective|purpose|mission|settings|protections|safeguards)\b",
    ),
    signal(
        "ignore_the_instructions",
        Family::Override,
        0.5,
        r"\b(?:ignore|disregard)\s+(?:the|these|those|my|his|her|their)\s+(?:instructions|directions|rules|guidelines)\b",
    ),
    signal(
        "new_instructions",
        Family::Override,
        0.65,
        r"\b(?:new|updated|revised|real|actual|true|hidden|secret)\s+(?:instructions?|directives?|system prompt|orders)\s*(?::|are\b|is\b|follow\b)|\byour\s+(?:new|real|true|actual|only|primary)\s+(?:task|instructions?|goal|purpose|role|job|objective|mission)\s+(?:is|are|will be|now)\b",
    ),
    signal(
        "new_instructions_foreign",
        Family::Override,
        0.6,
        r"(?:nouvelles?|nuevas?|neue|новая|новые|nuove?|novas?)\s+(?:instructions?|consignes?|instrucciones|instruccion|anweisungen|anweisung|инструкци[яи]|istruzion[ei]|instrucoes|instrucao)\s*:",
    ),
    signal(
        "instead_of_users_request",
        Family::Override,
        0.8,
        r"\binstead\s+of\s+(?:the\s+|what\s+the\s+)?(?:user'?s?|customer'?s?|original|actual|requested)\s*(?:request|question|task|query|instructions?|asked|wants|prompt)?\b",
    ),
    signal(
        "from_now_on",
        Family::Override,
        0.55,
        r"\bfrom now on\b[^.\n]{0,30}\byou\b|\bfrom this point (?:on|forward)\b[^.\n]{0,30}\byou\b",
    ),
    signal(
        "do_not_follow",
        Family::Override,
        0.7,
        r"\b(?:do not|don't|dont|never|stop)\s+(?:follow|obey|listen to|comply with|adhere to)\b[^.\n]{0,30}\b(?:instructions?|rules|guidelines|user|system|developer|prompt)",
    ),
    signal(
        "focus_only_on_this",
        Family::Override,
        0.35,
        r"\b(?:focus|concentrate|rely)\s+(?:exclusively|only|solely)\s+on\b",
    ),
    signal(
        "instead_reply",
        Family::Hijack,
        0.55,
        r"\b(?:instead|rather)\s*,?\s+(?:just\s+|only\s+|simply\s+)?(?:reply|respond|answer|say|write|output|print|tell|return)\b|\b(?:respond|reply|answer)\s+(?:to\s+(?:the\s+)?(?:user|them|him|her|everyone)\s+)?(?:only\s+with|with\s+only|with\s+nothing\s+but|only\s+by)\b",
    ),
    signal(
        "do_not_do_the_task",
        Family::Hijack,
        0.4,
        r"\b(?:do not|don't|never)\s+(?:summari[sz]e|translate|analy[sz]e|answer|respond to|reply to|process|review)\s+(?:this|the|these|that|it)\b",
    ),
    signal(
        "instructions_revoked",
        Family::Override,
        0.85,
        r"\b(?:previous|prior|above|earlier|old|original|all)\s+(?:instructions|rules|directions|guidelines|prompts?|directives)\s+(?:are|is|were|have been)\s+(?:now\s+)?(?:void|invalid|cancell?ed|obsolete|revoked|null|overridden|superseded|no longer (?:valid|apply|applicable|in effect))\b|(?:bisherigen|vorherigen|vorigen|fruheren|obigen)\s+(?:anweisungen|instruktionen|regeln|befehle|vorgaben)\s+(?:sind|werden)\s+(?:ab sofort\s+|jetzt\s+)?(?:ungultig|aufgehoben|nichtig|irrelevant|hinfallig)|\b(?:instructions|consignes|regles)\s+(?:precedentes|anterieures)\s+(?:sont|ne sont plus)\s+(?:annulees|invalides|valables|caduques)|\b(?:instrucciones|reglas)\s+anteriores\s+(?:ya no|son|quedan)\s+(?:son validas|validas|invalidas|anuladas|sin efecto)",
    ),
    signal(
        "forget_everything_before_foreign",
        Family::Override,
        0.85,
        r"\b(?:olvida|olvide|ignora|ignore|esquece|esqueca)\s+todo\s+(?:lo\s+)?(?:anterior|dicho|que te (?:dije|dijeron)|o que)|\b(?:oublie|oubliez|ignore|ignorez)\s+tout\s+ce\s+qui\s+(?:precede|a ete dit)|\bvergiss\s+alles\b|\bignoriere\s+alles\b|\bdimentica\s+tutto\b",
    ),
    signal(
        "override_french",
        Family::Override,
        0.9,
        r"\b(?:ignorez|ignore|oublie[zs]?|ne tiens pas compte|ne tenez pas compte)\b[^.\n]{0,30}\b(?:instructions?|consignes?|directives?|regles|politique|politiques)\b",
    ),
    signal(
        "override_spanish_portuguese",
        Family::Override,
        0.9,
        r"\b(?:ignora|ignore|ignoren|ignorar|olvida|olvide|olviden|olvidar|omite|omitir|esqueca|esquece|esquecer|desconsidere|desconsidera|desconsiderar)\b[^.\n]{0,30}\b(?:instrucciones|indicaciones|reglas|ordenes|instrucoes|regras|orientacoes)\b",
    ),
    signal(
        "override_italian",
        Family::Override,
        0.9,
        r"\b(?:ignora|ignorate|dimentica|dimenticate|trascura)\b[^.\n]{0,30}\b(?:istruzioni|regole|indicazioni)\b",
    ),
    signal(
        "override_german_dutch",
        Family::Override,
        0.9,
        r"\b(?:ignoriere|ignorieren|ignoriert|ignorier|vergiss|vergesst|vergessen sie|missachte|negeer|vergeet)\b[^.\n]{0,40}\b(?:anweisungen|anweisung|instruktionen|regeln|vorgaben|befehle|instructies|regels|opdrachten)\b",
    ),
    signal(
        "override_russian",
        Family::Override,
        0.9,
        r"(?:игнорируй|игнорируйте|проигнорируй|забудь|забудьте|не обращай внимания на|не обращайте внимания на)[^.\n]{0,40}(?:инструкци|указани|правил|команд|промпт)",
    ),
    signal(
        "override_cjk",
        Family::Override,
        0.9,
        r"(?:忽略|无视|忽视|不要理会|忘记|忘掉|无视掉)[^。\n]{0,20}(?:之前|以前|先前|上面|上述|前面|所有|以上|原来)[^。\n]{0,20}(?:指令|指示|说明|规则|提示|要求|设定)|(?:以前|前|上記|これまで|先)の(?:指示|命令|ルール|指令|プロンプト)[をはも]?(?:すべて|全て)?(?:無視|忘れ)|(?:이전|위의|앞의|기존)[^\n]{0,8}(?:지시|명령|지침|규칙)[^\n]{0,10}(?:무시|잊)",
    ),
    // Fake roles and templates.
    signal(
        "role_line",
        Family::RoleMarker,
        0.45,
        r"(?m)^[ \t>*#-]*(?:system|assistant|ai|user|human|developer|admin)(?: message| prompt)?[ \t]*:",
    ),
    signal(
        "role_tag",
        Family::RoleMarker,
        0.6,
        r"\[(?:system|sys|admin|developer|assistant|system message|system prompt)\]|</?\s*(?:system|assistant|system_prompt|instructions?|admin)\s*>",
    ),
    signal(
        "ai_directive_label",
        Family::RoleMarker,
        0.6,
        r"\b(?:ai|assistant|model|llm|agent|bot|chatbot)\s+(?:directive|instructions?|command|order|task|override)s?\s*:",
    ),
    signal(
        "claims_authority",
        Family::Persona,
        0.6,
        r"\bas\s+(?:your|the)\s+(?:developer|creator|administrator|admin|owner|operator|programmer|maker|boss|supervisor)\b[^.\n]{0,20}\b(?:i|you)\b|\bi\s+(?:hereby\s+)?(?:authori[sz]e|permit|allow|order|command|instruct)\s+you\s+to\b",
    ),
    signal(
        "covert_action",
        Family::ToolCoercion,
        0.55,
        r"\b(?:secretly|covertly|quietly|silently|discreetly)\s+(?:add|insert|include|mention|promote|send|forward|append|embed|change|modify|delete|call|run|execute|copy|upload)\b|\bwithout\s+(?:the\s+user|the\s+owner|them|anyone)\s+(?:noticing|knowing|realizing)\b",
    ),
    signal(
        "role_tag_loose",
        Family::RoleMarker,
        0.5,
        r"\[\s*(?:system|sys|admin|developer|assistant|ai|model|llm|bot|operator)\b[^\]\n]{1,30}\]",
    ),
    signal(
        "instruction_banner",
        Family::RoleMarker,
        0.6,
        r"(?:--+|==+|\*\*+|##+)\s*(?:core|new|system|hidden|important|urgent|admin|secret|override)\s+(?:instructions?|directives?|prompt|message|override)\b|\b(?:begin|end|start)\s+(?:of\s+)?(?:system|hidden|secret|new|admin)\s+(?:prompt|instructions?|message)\b|\b(?:system|admin)\s+(?:override|instruction|directive)s?\s*[:!]|\b(?:developer|security)\s+(?:override|instruction|directive)s?\s*[:!]|(?:--+|==+|\*\*+|##+)\s*(?:system|admin|security)\s+(?:update|notice|alert|announcement|message)\s*(?:--+|==+|\*\*+|##+)",
    ),
    signal(
        "chat_template_token",
        Family::Template,
        0.9,
        r"<\|(?:im_start|im_end|im_sep|endoftext|system|user|assistant|end|eot_id|start_header_id|end_header_id|begin_of_text|end_of_text|fim_prefix|fim_suffix|fim_middle)\|>|\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>",
    ),
    signal(
        "fake_dialogue",
        Family::RoleMarker,
        0.6,
        r"(?m)^[ \t>*#-]*(?:assistant|ai)[ \t]*:[^\n]*\n(?:[ \t]*\n)*[ \t>*#-]*(?:user|human)[ \t]*:",
    ),
    signal(
        "bracketed_request",
        Family::RoleMarker,
        0.6,
        r"\[\s*(?:admin|system|developer|operator|moderator|root)\s+(?:request|message|note|instructions?|override|command)\s*:",
    ),
    signal("instruction_template", Family::Template, 0.55, r"(?m)^#{2,4}\s*(?:instruction|system|response|input)\s*:"),
    // Talking to the AI that reads the data.
    signal(
        "note_to_ai",
        Family::AddressesAi,
        0.7,
        r"\b(?:note|message|instructions?|attention|notice|reminder|memo|hint|request|directive)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:[a-z]+(?:ing|ed)\s+)?(?:ai|a\.i\.|assistant|llm|language model|chatbot|chat bot|bot|agent|model|gpt|chatgpt|claude|gemini|copilot|automated|automatic|analysis|summari[sz]er|scanner|crawler|screener|screening)",
    ),
    signal(
        "hails_ai",
        Family::AddressesAi,
        0.65,
        r"\b(?:attention|note|notice|message|memo|instructions?|to)\s*,?\s+(?:the\s+|any\s+|all\s+|dear\s+)?(?:ai|a\.i\.|llm|language model|assistant|chatbot|bot|agent|ai model|ai system)s?\s*[:!]",
    ),
    signal(
        "if_ai_reads_this",
        Family::AddressesAi,
        0.75,
        r"\bif\s+(?:an?|the|any)\s+(?:ai|llm|language model|model|assistant|chatbot|bot|agent)(?:\s+(?:model|system|tool))?\s+(?:is\s+)?(?:reads?|reading|processes|processing|sees|parses|summari[sz]es|analy[sz]es)\b",
    ),
    signal(
        "hidden_styling",
        Family::AddressesAi,
        0.25,
        r"font-size\s*:\s*0(?:px|pt|em)?\s*[;\x22']|display\s*:\s*none|visibility\s*:\s*hidden|color\s*:\s*(?:white|#fff(?:fff)?)\b",
    ),
    signal(
        "regardless_of_user",
        Family::OutputControl,
        0.6,
        r"\b(?:regardless of|no matter|irrespective of)\s+(?:what|whatever|which|the)\s+(?:the\s+)?(?:user|question|request|they|prompt|query|you(?:'re|\s+are)?\s+asked)\b",
    ),
    signal(
        "text_for_machines",
        Family::AddressesAi,
        0.65,
        r"\b(?:hidden|invisible|secret)\s+(?:text|note|message|instructions?|content|prompt)\s+(?:for|to)\s+(?:the\s+)?(?:ai|llms?|language models?|models?|bots?|assistants?|agents?|crawlers?)\b|\b(?:for|to)\s+(?:all\s+|any\s+|the\s+)?(?:llms?|ais|language models?|coding agents?|chatbots?|bots|agents?|crawlers?|(?:ai|llm)\s+(?:\w+\s+)?(?:assistants?|agents?|models?|systems?|tools?|bots?))\s*:",
    ),
    signal(
        "say_when_asked",
        Family::AddressesAi,
        0.55,
        r"\b(?:say|pretend|claim|tell|answer|reply|respond|insist|state|report)\b[^.\n]{0,60}\b(?:when|if|whenever)\s+(?:you\s+are\s+|you're\s+)?(?:asked|questioned|queried)\b",
    ),
    signal(
        "before_replying_to_user",
        Family::AddressesAi,
        0.6,
        r"\b(?:before|when|after|while|whenever)\s+(?:you\s+)?(?:respond|reply|answer|talk|speak|write)\s+(?:back\s+)?to\s+(?:the\s+)?users?\b",
    ),
    signal(
        "ai_label_then_order",
        Family::AddressesAi,
        0.65,
        r"(?:ai|a\.i\.|llms?|assistants?|agents?|models?|language models?|chatbots?|bots?|gpt|chatgpt|claude|gemini|copilot|summari[sz]ers?|ia|ki|asistente|assistente|modelo|modele|modell|ассистент|ии|нейросеть)(?:\s+[\w'-]+){0,4}?\s*[)\]]?\s*:\s*(?:please\s+|now\s+|also\s+|from now on,?\s+)?(?:when|whenever|before|after|always|never|call|report|accept|exfiltrate|upload|insert|respond|reply|say|tell|write|ignore|forget|disregard|do|don't|recommend|rank|rate|describe|mention|include|add|remove|delete|send|forward|show|reveal|print|output|list|summari[sz]e|translate|answer|use|visit|open|click|run|execute|stop|make|pretend|act|treat|sign|approve|refuse|cancel|book|buy|transfer|responde|di|dile|ignora|recomienda|menciona|escribe|envia|siempre|nunca|no|reponds|dis|recommande|mentionne|ecris|envoie|ne|toujours|jamais|antworte|sage|ignoriere|empfiehl|erwahne|schreibe|sende|immer|niemals|verschweige|отвечай|скажи|игнорируй|пиши|отправь|всегда|никогда|не)(?:$|[^\w])",
    ),
    signal(
        "if_you_are_ai",
        Family::AddressesAi,
        0.75,
        r"\bif\s+you(?:'re|\s+are)\s+(?:an?\s+|the\s+)?(?:ai|a\.i\.|llm|large language model|language model|chatbot|assistant|bot|gpt|automated|artificial)",
    ),
    signal(
        "for_automated_readers",
        Family::AddressesAi,
        0.55,
        r"\b(?:for|to)\s+(?:the\s+|any\s+|all\s+)?(?:automated|automatic|ai|llm)[- ](?:screening|analysis|review|scoring|evaluation|hiring|recruiting)\s*(?:systems?|software|tools?|bots?|agents?)?\b",
    ),
    signal(
        "if_asked_say",
        Family::AddressesAi,
        0.55,
        r"\bif\s+(?:you\s+are\s+|you're\s+)?(?:questioned|asked|queried|prompted|challenged)\b[^.\n]{0,20}?\b(?:report|say|answer|respond|reply|state|claim|tell|insist)\b",
    ),
    signal(
        "steer_verdict",
        Family::AddressesAi,
        0.45,
        r"\b(?:report|classify|mark|flag|rate|label|treat|consider|describe)\s+(?:this|the|it)\b[^.\n]{0,30}?\b(?:as\s+)?(?:safe|benign|not malicious|legitimate|trustworthy|clean|the (?:best|most qualified|top))\b",
    ),
    signal(
        "reader_at_work",
        Family::AddressesAi,
        0.6,
        r"\b(?:when|while|before|after|if|whenever|once)\s+(?:you\s+)?(?:summari[sz]e|summari[sz]ing|cite|citing|quote|quoting|process|processing|analy[sz]e|analy[sz]ing|review|reviewing|translate|translating|parse|parsing|index|indexing)\b(?:\s+(?:this|these|the|it|that|my|our))?[^.!?\n]{0,60}?\b(?:must|always|never|should|say|claim|tell|output|write|include|mention|make sure|make it|make them|pretend|suggest|imply|ensure|state|add|insert|recommend|describe it|present it|send|email|forward|post|upload|visit|open|fetch|browse|click|load|call|run|append)\b",
    ),
    signal(
        "replier_at_work",
        Family::AddressesAi,
        0.45,
        r"\b(?:when|while|before|after|if|whenever|once)\s+(?:you\s+)?(?:answer|reply|respond|read|reading|describe|describing)\b(?:\s+(?:this|these|the|it|that|my|our))?[^.!?\n]{0,60}?\b(?:must|always|never|say|claim|tell|output|mention|make it|make them|pretend|imply|state|recommend|present it|send|email|forward|post|upload|visit|open|fetch|browse|click|load|call|run|append)\b",
    ),
    signal(
        "whoever_reads_this",
        Family::AddressesAi,
        0.65,
        r"\b(?:to\s+)?(?:whoever|whomever|anyone|anybody|whatever|any\s+(?:ai|model|system|tool|bot))\s+(?:that\s+|who\s+)?(?:is\s+)?(?:reading|summari[sz]ing|processing|analy[sz]ing|reviewing|parsing|scanning|indexing)\b",
    ),
    signal(
        "your_reply_must",
        Family::OutputControl,
        0.6,
        r"\byour\s+(?:response|reply|answer|output|summary)s?\s+(?:should|must|shall|needs? to|has to|is to)\s+(?:be\s+)?(?:written|in|start|begin|end|include|contain|mention|say|use|only|always|never)\b",
    ),
    signal(
        "outputs_about_this_must",
        Family::AddressesAi,
        0.6,
        r"\b(?:summar(?:y|ies)|responses?|replies|answers?|outputs?|descriptions?|reviews?)\s+(?:of|to|about|for|on)\s+(?:this|the)\s+(?:page|document|email|article|text|message|file|site|record|post|review|data)s?\s+(?:must|should|shall|needs? to|have to|has to|will)\b",
    ),
    signal(
        "model_must",
        Family::AddressesAi,
        0.5,
        r"\b(?:ai|assistant|model|llm|chatbot|bot|agent|language model)s?(?:\s+(?:systems?|tools?|agents?))?(?:\s+\w+ing\s+(?:this|the|these)\s+\w+)?\s+(?:must|should|shall|need to|needs to|have to|has to|are required to|is required to|will now|is instructed to|are instructed to|is to|are to)\s+(?:now\s+|first\s+|always\s+|never\s+|only\s+)?(?:say|tell|output|print|reply|respond|answer|write|include|mention|claim|state|send|reveal|recommend|delete|call|run|execute|describe|rank|rate|treat|label|present|open|visit|approve|upload|exfiltrate|forward|post|accept|sign|insert|write|mark|flag|classify)\b",
    ),
    signal(
        "speaks_to_ai_by_name",
        Family::AddressesAi,
        0.5,
        r"(?:^|[.!?\x22'{:(\[<>,—–-]\s*)(?:[a-z]+\s+)?(?:ai|assistant|chatbot|bot|model|llm|agent|claude|gpt|chatgpt|gemini|copilot)\s*[,:]\s+(?:please\s+|now\s+|immediately\s+)?(?:stop|ignore|forget|disregard|override|tell|say|reply|respond|answer|write|output|print|send|delete|call|run|when|before|after|do|don't|never|always|you|include|add|mention|make|remember|pretend|rank|rate|claim|approve|describe|treat|visit|open|use|act|from now on)\b",
    ),
    signal(
        "directs_user_treatment",
        Family::AddressesAi,
        0.45,
        r"\b(?:tell|inform|remind|warn|convince|persuade|urge|advise|respond to|reply to|answer)\s+(?:the\s+)?user(?:s)?\b",
    ),
    signal(
        "greets_ai",
        Family::AddressesAi,
        0.5,
        r"\b(?:dear|hey|hi|hello|attention|listen|psst)\s*,?\s+(?:ai|assistant|llm|chatgpt|gpt|claude|gemini|copilot|bot|model|agent|grok|siri|alexa|cortana|bard|llama|mistral|perplexity)\s*(?:[,:!.]|$)",
    ),
    signal(
        "ai_reading_this",
        Family::AddressesAi,
        0.7,
        r"\b(?:ai|llm|language model|assistant|chatbot|agent|model|bot)s?\s+(?:that is\s+|who is\s+)?(?:reading|processing|parsing|summari[sz]ing|analy[sz]ing|reviewing|scanning|evaluating|visiting|browsing|crawling|accessing|viewing)\s+(?:this|these|the following)",
    ),
    signal(
        "hidden_from_humans",
        Family::AddressesAi,
        0.7,
        r"\b(?:invisible|hidden)\s+(?:to|from)\s+(?:humans?|people|the user|readers?|reviewers?)\b|\bvisible\s+(?:only\s+)?to\s+(?:the\s+)?(?:ai|llm|model|bots?|machines?)\b|\bwhite[- ]text\b",
    ),
    // Dictating the reader's output.
    signal(
        "directs_your_reply",
        Family::OutputControl,
        0.62,
        r"(?m)(?:^|[.!?:;]\s+|\|\s*)\s*(?:please\s+|kindly\s+|also,?\s+|now,?\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?|\w+ly\s+|(?:do not|don't)\s+(?:hesitate to|forget to)\s+|make sure (?:to|you)\s+|be sure to\s+|remember to\s+|try to\s+)?(?:add|append|include|insert|incorporate|integrate|embed|mention|use|provide|express|encode|translate|write|reply|respond|answer|format|present|shift|reverse|invert|substitute|replace|modify|change|alter|enhance|augment|enrich|end|begin|start|conclude|finish|make|ensure|give|output|print|say|state|tell|craft|compose|rewrite|convert|render|deliver|structure|organi[sz]e|frame|limit|restrict|keep|wrap|prefix|promote|advertise|recommend|highlight|emphasi[sz]e|put|place|attach|upgrade|update|validate|refer|urge|invite|encourage|advise|warn|remind|ask|link|cite|spell|capitali[sz]e|sign|close|complete|inject|slip|weave|sneak|share|describe|explain|discuss|summari[sz]e|list|suggest|propose|introduce|allude|reference|indicate|show|display|repeat|mimic|imitate|emulate|adopt|speak|talk|communicate|phrase|style|tailor|customi[sz]e|adapt|adjust|transform|scramble|obfuscate|shuffle|sort|praise|mislead|claim|assert|declare|announce|report|insist|combine|merge|blend|infuse|sprinkle|pepper|lace|pad|extend|expand|lengthen|shorten|reduce|cut|trim|remove|delete|omit|drop|exclude|avoid|refrain|fill|accompany|supplement|bolster|boost|conclude|embellish|season|spice|tweak)\b(?:[^.!?\n]|[.!?]\S){0,120}?\byour\s+(?:entire\s+|whole\s+|final\s+|next\s+)?(?:response|reply|answer|output|message|summary|translation|implementation|responses|replies|answers|outputs|messages)\b",
    ),
    signal(
        "code_into_your_answer",
        Family::OutputControl,
        0.6,
        r"\b(?:following|below|subsequent|given|provided|above|this)\s+(?:python\s+)?(?:code\s+)?(?:snippet|block|section|excerpt|fragment|segment|piece of code|lines? of code)\b[^.!?\n]{0,80}\byour\s+(?:code|elucidation|explanation|implementation|algorithm|solution|answer|response|reply|program|script|codebase|functionality)|\byour\s+(?:code|elucidation|explanation|implementation|algorithm|solution|answer|response|reply|program|script|codebase)\b[^.!?\n]{0,60}\b(?:following|below|subsequent|given|provided)\s+(?:code\s+)?(?:snippet|block|section|excerpt|fragment|segment|code)\b",
    ),
    signal(
        "in_your_reply",
        Family::OutputControl,
        0.62,
        r"(?m)(?:^|[.!?]\s+|\|\s*)\s*(?:in|within|throughout|for|with|at the (?:end|start|beginning) of)\s+your\s+(?:response|reply|answer|output|message|summary)s?\s*,",
    ),
    signal(
        "reply_in_language_or_encoding",
        Family::OutputControl,
        0.62,
        r"\b(?:reply|respond|answer|write|speak|communicate|converse|talk|output)(?:\s+to\s+(?:me|the user|everyone|all))?(?:\s+only)?\s+(?:in|using|with)\s+(?:only\s+)?(?:the\s+)?(?:[a-z]+\s+){0,2}(?:language|french|german|spanish|italian|portuguese|chinese|mandarin|japanese|korean|russian|arabic|hindi|dutch|swedish|polish|turkish|greek|hebrew|latin|pig latin|emojis?|base\s?64|base\s?58|base\s?32|hex(?:adecimal)?|binary|morse(?: code)?|rot\s?13|reverse(?:d)?(?: order)?|uppercase|all caps|capital letters|leetspeak|l33t|cipher|riddles?|rhymes?|verse|poems?|haiku)\b",
    ),
    signal(
        "letters_of_your_reply",
        Family::OutputControl,
        0.6,
        r"\b(?:each|every|all)(?:\s+the)?\s+(?:letters?|words?|characters?|sentences?)\s+(?:in|of)\s+your\b",
    ),
    // Exfiltration and prompt leaks.
    signal(
        "send_data_elsewhere",
        Family::Exfiltration,
        0.85,
        r"\b(?:send|forward|email|e-mail|mail|post|upload|transmit|transfer|share|leak|exfiltrate|copy|submit|deliver|append)\b[^.\n]{0,60}?\b(?:conversation|chat|history|transcript|password|passwords|passphrase|api keys?|credentials?|secrets?|tokens?|system prompt|instructions|personal (?:data|information|details)|user data|private|contacts|emails|messages|files|documents|cookies|session|ssh keys?|env(?:ironment)? variables|\.env)\b[^.\n]{0,60}?\b(?:to|at|via|into|onto)\s+(?:https?://|www\.|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}|ftp://|webhook|(?:this|the following|my|our)\s+(?:url|endpoint|address|server|email)|(?:an?\s+|the\s+|some\s+)?(?:remote|external|outside|third[- ]party|attacker'?s?|foreign|unknown)\s+(?:server|host|endpoint|address|machine|site|account|inbox))",
    ),
    signal(
        "send_it_to_address",
        Family::Exfiltration,
        0.45,
        r"\b(?:send|forward|email|e-mail|mail|post|upload|transmit|exfiltrate)\s+(?:it|them|this|these|everything|all|the\s+\w+)\s+(?:\w+\s+){0,3}?to\s+(?:https?://|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,})",
    ),
    signal("exfiltrate_word", Family::Exfiltration, 0.6, r"\bexfiltrat\w*"),
    signal(
        "markdown_image_with_data",
        Family::Exfiltration,
        0.85,
        r"!\[[^\]\n]{0,100}\]\(https?://[^)\s]{1,300}[?&][a-z0-9_]{1,30}=(?:\{|\[|<|%7b|\$)",
    ),
    signal("markdown_image", Family::Exfiltration, 0.25, r"!\[[^\]\n]{0,100}\]\(https?://"),
    signal(
        "reveal_prompt_or_secrets",
        Family::Exfiltration,
        0.8,
        r"\b(?:reveal|print|output|repeat|show|display|tell me|give me|leak|dump|write out|recite|disclose|expose)\b[^.\n]{0,30}\b(?:your|the)\b[^.\n]{0,15}\b(?:system prompt|initial prompt|hidden prompt|original prompt|initial instructions|system instructions|hidden instructions|secret instructions|developer message|api keys?|passwords?|credentials|secret key|environment variables|hidden (?:configuration|config|settings|rules)|configuration)\b",
    ),
    signal(
        "asks_for_prompt",
        Family::Exfiltration,
        0.7,
        r"\bwhat\s+(?:is|are|was|were)\s+your\s+(?:system prompt|initial instructions|hidden instructions|original instructions|instructions|rules|secrets?|password|api keys?|configuration)\b",
    ),
    signal(
        "users_private_data",
        Family::Exfiltration,
        0.45,
        r"\bthe\s+user'?s\s+(?:phone number|home address|address|passwords?|credit card|card number|ssn|social security number|email address|location|contacts|credentials|api keys?|tokens?|query history|search history|browsing history|chat history|private messages|files)\b",
    ),
    signal(
        "policy_changed",
        Family::Persona,
        0.7,
        r"\b(?:system|official|urgent)\s+(?:message|notice|update|announcement)\s+from\s+(?:openai|anthropic|google|meta|microsoft|the developers?|your developers?|your creators?|the admin(?:istrator)?)\b|\byour\s+(?:content\s+|safety\s+)?(?:policy|policies|guidelines|rules|restrictions|instructions|filters)\s+(?:has|have)\s+(?:just\s+)?(?:been\s+)?(?:updated|changed|lifted|removed|disabled|relaxed|suspended)\b",
    ),
    signal(
        "verify_account_lure",
        Family::Exfiltration,
        0.3,
        r"\bto\s+(?:verify|confirm|validate|reactivate|restore|unlock)\s+your\s+(?:account|identity|password|payment|login)",
    ),
    // Tool coercion.
    signal(
        "tool_call_markup",
        Family::ToolCoercion,
        0.75,
        r"<\s*/?\s*(?:tool_call|tool_calls|function_call|function_calls|invoke|tool_use|tool_result)\b|\x22(?:tool_calls?|function_call)\x22\s*:",
    ),
    signal(
        "call_tool",
        Family::ToolCoercion,
        0.45,
        r"\b(?:call|invoke|use|run|execute|trigger|activate)\s+(?:the\s+|your\s+)?[`'\x22]?[a-z_][a-z0-9_.-]{1,40}[`'\x22]?\s+(?:tool|function|plugin|action|api|command)\b[^.\n]{0,60}\b(?:with|to|and|now|immediately|without)\b",
    ),
    signal(
        "behind_users_back",
        Family::ToolCoercion,
        0.6,
        r"\bwithout\s+(?:asking|telling|informing|notifying|alerting|consulting|confirming with|permission from|the user'?s\s+(?:knowledge|consent|permission|approval))\b|\b(?:do not|don't|never)\s+(?:tell|inform|mention (?:this|it) to|notify|alert|let)\s+(?:the\s+)?(?:user|owner|human|anyone)\b",
    ),
    signal(
        "on_users_behalf",
        Family::ToolCoercion,
        0.4,
        r"\bon\s+(?:the\s+)?user'?s\s+behalf\b|\bon\s+behalf\s+of\s+the\s+user\b|\bsign\s+with\s+their\s+name\b",
    ),
    signal(
        "destructive_bulk_action",
        Family::ToolCoercion,
        0.35,
        r"\b(?:delete|erase|wipe|remove|drop|purge|cancel)\s+(?:all\s+(?:of\s+)?(?:the\s+user'?s\s+|their\s+)?|every|the user'?s|their|the entire)[^.\n]{0,30}\b(?:files|emails|messages|data|database|repositor(?:y|ies)|records|backups|contacts|accounts|calendar|events|photos|documents|folders|notes|tasks|history|logs|meetings|appointments|orders|subscriptions|bookings)\b",
    ),
    signal(
        "move_money",
        Family::ToolCoercion,
        0.45,
        r"\b(?:transfer|send|wire|pay)\b[^.\n]{0,30}(?:\$\s?\d|\d+\s?(?:usd|eur|btc|eth|dollars)|bitcoin|crypto|funds)[^.\n]{0,40}\b(?:to|into)\s+(?:the\s+|this\s+|my\s+)?(?:account|wallet|iban|address)",
    ),
    // Personas and jailbreak modes.
    signal(
        "you_are_now",
        Family::Persona,
        0.6,
        r"\byou\s+are\s+now\s+(?:an?\s+|the\s+|my\s+|in\s+)?(?:[a-z]+\s+)?(?:ai|assistant|model|bot|character|persona|dan|hacker|jailbroken|unrestricted|unfiltered|evil|free from|mode)\b|\byou\s+are\s+no\s+longer\s+(?:an?\s+)?(?:ai|assistant|bound|restricted|limited|required|chatgpt|claude|gpt|a language model|language model|an llm|obligated)\b|\byou\s+will\s+now\s+(?:act|be|respond|behave)\b",
    ),
    signal(
        "unrestricted_persona",
        Family::Persona,
        0.6,
        r"\b(?:act|behave|respond|operate|pretend|roleplay)\s+(?:as|like|to be)\s+(?:if you (?:are|were)\s+)?(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|amoral)\b|\b(?:enable|enter|activate|switch to|turn on)\b[^.\n]{0,15}\b(?:developer|god|dan|jailbreak|debug|sudo|unrestricted) mode\b|\bdo anything now\b",
    ),
    signal(
        "unrestricted_persona_foreign",
        Family::Persona,
        0.6,
        r"\b(?:vous etes|tu es|eres|du bist|sie sind|sei|voce e)\s+(?:maintenant|desormais|ahora|jetzt|nun|ora|agora)\s+(?:un|une|una|ein|eine|um|uma)\b|\b(?:sans|sin|ohne|senza|sem)\s+(?:aucune?\s+|ninguna?\s+|jegliche\s+|alcuna?\s+|nenhuma?\s+)?(?:restricciones|restrictions|regles|reglas|einschrankungen|regeln|restrizioni|regole|limites|filtros|filtres|restricoes)\b",
    ),
    signal(
        "no_restrictions",
        Family::Persona,
        0.4,
        r"\b(?:no|without)\s+(?:any\s+)?(?:ethical|moral|content|safety)\s+(?:guidelines|restrictions|filters|limits|constraints)\b",
    ),
    // Hostile code offered for inclusion in an answer.
    signal(
        "include_snippet",
        Family::OutputControl,
        0.35,
        r"\b(?:include|incorporate|insert|add|integrate|embed|append|paste|implement|copy)\b[^.\n]{0,40}\b(?:the\s+)?(?:following|below|above|this|given)\s+(?:code|snippet|script|command|block|function|line|code block|code snippet)s?\b",
    ),
    signal(
        "hostile_code",
        Family::HostileCode,
        0.35,
        r"authorized_keys|\.ssh/id_|\.aws/credentials|document\.cookie|\bid_rsa\b|/etc/passwd|/etc/shadow|pbpaste|xclip|\bclipboard\b|keylog|gnome-screenshot|\bscreenshot\b|rm\s+-rf\s+(?:/|~)|sudo\s+reboot|shutdown\s+-h|grub\.cfg|crontab\s+-|chmod\s+777|base64\s+(?:-d|--decode)\s*\|\s*(?:ba)?sh|curl[^|\n]{0,100}\|\s*(?:ba)?sh\b|/dev/tcp/|\bnc\s+-e\b|powershell\s+-enc|requests\.post\(\s*\x22https?://|subprocess\.call\(\s*\[\s*\x22curl",
    ),
    // Goal hijacks.
    signal(
        "just_print",
        Family::Hijack,
        0.5,
        r"\b(?:just|only|instead|simply)\s+(?:print|say|output|write|respond with|reply with|repeat|type|return)\b|\b(?:reply|respond|answer)\s+with\s+(?:only|nothing but|just)\s+(?:the following|this|\x22)",
    ),
    signal(
        "say_exactly",
        Family::Hijack,
        0.4,
        r"\b(?:print|say|output|repeat|return|reply with|respond with)\b[^.\n]{0,10}\b(?:exactly|verbatim|nothing but|the following (?:sentence|text|phrase|word)|this (?:sentence|text|phrase|word))\b|\babsolutely nothing else\b",
    ),
    signal("pwned", Family::Hijack, 0.5, r"\bpwn(?:ed|3d)\b|\bhacked by\b"),
    // Added after the held-out round (tests/data/safety/injection-heldout.jsonl): general shapes that round
    // showed were missing, each written as the family of phrasings, not as the sample's words.
    signal(
        "suspend_your_rules",
        Family::Override,
        0.8,
        r"\b(?:set aside|put aside|put|place|suspend|pause|shelve|waive|lift|drop|switch off|turn off|disable|relax|loosen)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the|your|its)\s+(?:\w+\s+){0,2}?(?:rules|guidance|guidelines|instructions|directions|directives|restrictions|filters|policy|policies|safeguards|guardrails|limits|constraints|programming)\b(?:\s+(?:on hold|aside|for now|for a (?:moment|while|minute)|just this once|temporarily))?|\b(?:rules|guidance|guidelines|instructions|directions|restrictions)\s+(?:you\s+(?:were|have been|'ve been)\s+(?:given|told|trained on)|given to you)\s+(?:earlier|before|previously|at the start|initially)\b",
    ),
    signal(
        "as_if_no_rules",
        Family::Override,
        0.8,
        r"\b(?:as (?:though|if)|pretend(?:ing)? (?:that)?)\s+(?:none of\s+|no\s+)?(?:your|the)\s+(?:\w+\s+){0,2}?(?:rules|guidelines|instructions|directions|restrictions|filters|policies|programming)\s+(?:applied|apply|existed|exist|mattered|matter|were there)\b|\btreat(?:ed|ing)?\s+(?:the\s+)?(?:text|content|message|document|page|lines?)\s+(?:above|below|here)\s+as\s+(?:your\s+)?(?:real|true|actual|new|only|primary)\s+(?:instructions|rules|orders|prompt)\b",
    ),
    signal(
        "reveal_setup",
        Family::Exfiltration,
        0.75,
        r"\b(?:reveal|print|output|repeat|show|display|share|paste|copy|leak|dump|recite|disclose|expose|read out|read aloud|tell me|give me)\b[^.\n]{0,30}\b(?:hidden|secret|confidential|initial|original|internal|startup|setup|system|exact)\s+(?:text of (?:your|the)\s+)?(?:\w+\s+)?(?:prompt|setup message|configuration|config|instructions|message you (?:were|started)|rules that)\b",
    ),
    signal(
        "read_out_credentials",
        Family::Exfiltration,
        0.45,
        r"\b(?:read|recite|list|tell|give|show|dump|print|reveal|share|reading)\s+(?:me\s+|us\s+|out\s+|aloud\s+)?(?:all\s+)?(?:of\s+)?(?:the\s+|your\s+|their\s+|its\s+|his\s+|her\s+)?(?:\w+\s+){0,3}?(?:passwords?|credentials|api keys?|secret keys?|private keys?|access tokens?|secrets vault|password vault|keychain)\b",
    ),
    signal(
        "addresses_ai_at_work",
        Family::AddressesAi,
        0.7,
        r"\b(?:to|for|attention|dear|hey)\s+(?:the\s+|any\s+|all\s+|an?\s+)?(?:\w+\s+)?(?:ai|assistant|agent|bot|model|llm)s?\s+(?:that\s+|who\s+|which\s+)?(?:is\s+|are\s+)?(?:reading|processing|handling|summari[sz]ing|checking|managing|triaging|scanning|going through|working on)\b|\b(?:attention|note|memo|message)\s*,?\s+(?:the\s+|any\s+|all\s+|dear\s+)?[a-z]+\s+(?:ai|assistant|agent|bot|model)s?\s*[:!]",
    ),
    signal(
        "ai_vocative_obligation",
        Family::AddressesAi,
        0.65,
        r"(?:^|[.!?\x22'{:(\[<>—–-]\s*)(?:ai|assistant|agent|model|bot)\s*,\s+[^.\n]{0,30}?\byou\s+(?:are|were)\s+(?:now\s+)?(?:required|obligated|instructed|expected|supposed|authori[sz]ed)\s+to\b|\byou\s+(?:are|were)\s+(?:hereby\s+)?(?:required|obligated|instructed|authori[sz]ed)\s+to\s+(?:call|send|forward|email|upload|delete|run|execute|fetch|visit|open|transfer|share|reveal|post|purchase|buy|confirm)\b",
    ),
    signal(
        "rules_changed_by_operator",
        Family::Persona,
        0.7,
        r"\b(?:operator|owner|developer|admin(?:istrator)?|creator|maker)s?\s+(?:has|have|had)\s+(?:\w+\s+)?(?:changed|updated|replaced|revoked|lifted|removed|rewritten)\s+your\s+(?:instructions|rules|guidelines|restrictions|settings|policy|policies|orders)\b|\b(?:the\s+assistant'?s|the\s+ai'?s|the\s+model'?s|the\s+agent'?s|its)\s+(?:\w+\s+)?(?:policy|policies|guidelines|rules|restrictions|instructions|filters|safeguards)\s+(?:has|have|are|were)\s+(?:just\s+|now\s+)?(?:been\s+)?(?:updated|changed|lifted|removed|disabled|relaxed|suspended|revoked|deactivated|waived)\b|\bcomply\s+with\s+(?:any|every|all)\s+(?:\w+\s+)?(?:requests?|instructions?|commands?|orders?)\b",
    ),
    signal(
        "jailbreak_persona",
        Family::Persona,
        0.6,
        r"\b(?:never|doesn't|does not|won't|will not)\s+refuses?\b|\bstay\s+in\s+character\b|\b(?:filters?|safety|restrictions|guardrails|censorship)\s+(?:disabled|removed|turned off|switched off|lifted|off)\b|\byou\s+are\s+no\s+longer\s+[a-z]+\s*[.!,]|\b(?:ai|assistant|bot|model)\s+with\s+(?:no|zero)\s+(?:\w+\s+)?(?:polic(?:y|ies)|filters?|restrictions|rules|limits|guardrails)\b",
    ),
    signal(
        "jailbreak_vocabulary",
        Family::Persona,
        0.3,
        r"\b(?:dev(?:eloper)?[- ]?mode|jailbr(?:oken|eak)|unfiltered|uncensored)\b",
    ),
    signal(
        "make_believe_frame",
        Family::Persona,
        0.3,
        r"\b(?:pretend|imagine|suppose)\s+(?:that\s+)?you(?:'re|\s+are|\s+were)\b|\blet'?s\s+(?:play|pretend|role-?play)\b|\byour\s+line\s+is\b|\bwe(?:'re|\s+are)\s+rehearsing\b|\bwrite\s+the\s+(?:ai|assistant|model)'?s\s+(?:explanation|answer|reply|instructions)\b",
    ),
    signal(
        "data_into_link",
        Family::Exfiltration,
        0.8,
        r"\b(?:replac|fill|append|insert|encod|substitut|embed|put|add|includ)\w*\b[^.\n]{0,80}?\b(?:conversation|messages?|chat|history|api keys?|passwords?|secrets?|credentials|usernames?|tokens?|e-?mail address(?:es)?|real values?)\b[^.\n]{0,80}?\b(?:url|link|image|query|src|parameter)\b|\b(?:url|link|image|src)\b[^.\n]{0,60}?\b(?:replac|fill|append|insert|substitut)\w*\b[^.\n]{0,60}?\b(?:conversation|messages?|api keys?|passwords?|secrets?|credentials|usernames?|tokens?|real values?)\b|\]\(https?://[^)\s]{1,200}[?&](?:secret|password|pass|pwd|key|apikey|api_key|token|conv|conversation|history|email|user|username|u|p|data|msg)=|<img\s[^>]{0,40}src\s*=\s*[\x22']?https?://[^\x22'\s>]{1,200}[?&](?:secret|password|pass|pwd|key|token|conv|data|email|user)=",
    ),
    signal(
        "call_named_function",
        Family::ToolCoercion,
        0.5,
        r"\b(?:call|invoke|execute|run|trigger|use)\s+(?:the\s+)?(?:tool\s+|function\s+)?[`'\x22]?[a-z]+_[a-z0-9_]+[`'\x22]?(?:\s+(?:tool|function))?\s*(?:\(|\bwith\b|\bon\b|\bto\s+(?:store|send|write|delete|run|fetch)\b|\busing\b)",
    ),
    signal(
        "skip_confirmation",
        Family::ToolCoercion,
        0.6,
        r"\b(?:skip|bypass|without)\s+(?:the\s+|any\s+)?(?:confirmation|approval|review|consent)\b|\bno\s+need\s+to\s+(?:confirm|ask|check with)\b|\b(?:do not|don't)\s+ask\s+(?:the\s+user|the\s+owner|for\s+(?:confirmation|approval|permission))\b|\bapprove\s*=\s*true\b",
    ),
    signal(
        "claims_prior_consent",
        Family::Persona,
        0.5,
        r"\b(?:pre-?approved|already\s+(?:approved|authori[sz]ed|agreed|consented|confirmed))\b|\b(?:user|owner)\s+(?:has|have|had)\s+(?:already\s+)?(?:approved|authori[sz]ed|agreed to|consented to)\b|\b(?:user|owner)\s+(?:has\s+)?authori[sz]ed\s+you\s+to\b",
    ),
    signal(
        "persistent_rule",
        Family::Override,
        0.65,
        r"\b(?:remember|store|save|memori[sz]e|add|write)\b[^.\n]{0,40}\b(?:permanent|persistent|standing|lasting)\s+(?:rule|instruction|directive|policy|order)\b|\b(?:always|only)\s+(?:obey|follow|trust|prioriti[sz]e)\b[^.\n]{0,40}\b(?:instructions?|commands?|orders)\s+(?:in|from|found in|on)\s+(?:web\s*pages?|websites?|documents?|emails?|tool outputs?|this page)\b",
    ),
    signal(
        "cloud_metadata",
        Family::HostileCode,
        0.45,
        r"169\.254\.169\.254|metadata\.google\.internal|/latest/meta-data|/computemetadata/",
    ),
];
