/* pretok.c — BPE pre-tokenizers: tokenizer.ggml.pre -> split patterns.
 *
 * Each pre-tokenizer is a list of regular expressions applied one after the
 * other: every pattern re-splits every current segment into its matches
 * and the gaps between them (llama.cpp's unicode_regex_split). The patterns
 * are the tokenizer.json ones as llama.cpp adapted them (case-insensitive
 * groups spelled out) and run on PCRE2 with Unicode properties, JIT-compiled
 * once per vocab.
 *
 * Two deliberate details keep the splits identical to llama.cpp:
 *   - "whitespace" is llama.cpp's set (Unicode White_Space: \t-\r, space,
 *     U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028/9, U+202F, U+205F,
 *     U+3000), so \s and \S are rewritten to explicit classes before
 *     compiling; \d is ASCII digits as in std::regex; \p{Lu}, \p{Ll},
 *     \p{Lt}, \p{Lm} and \p{Lo} all mean \p{L} (llama.cpp matches on a
 *     copy of the text collapsed to one byte per general category);
 *   - non-ASCII whitespace is matched as U+000B (llama.cpp substitutes it
 *     before running std::regex), so a literal class such as U+3000-U+3002
 *     does not see U+3000;
 *   - the text is first decoded with llama.cpp's UTF-8 rules (an invalid
 *     byte becomes U+FFFD) and the words are re-encoded from those code
 *     points. Code points PCRE2 cannot hold (surrogates, > U+10FFFF) are
 *     matched as a private-use stand-in of the same class (\p{C}).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

enum { PRE_IGNORE_MERGES = 1, PRE_ADD_BOS = 2, PRE_KEEP_SPACES = 4 /* clean_spaces = false */,
       PRE_ESCAPE_WS = 8, PRE_RAW_UTF8 = 16 /* not byte-encoded */, PRE_ADD_SEP = 32,
       PRE_NO_BOS = 64, PRE_NO_LOWERCASE = 128 };

typedef struct pre_name {
    const char *name;
    int kind;
    int flags;
} pre_name;

static const pre_name pre_names[] = {
    {"", TOK_PRE_DEFAULT, 0},
    {"default", TOK_PRE_DEFAULT, 0},
    {"minicpm5", TOK_PRE_MINICPM5, PRE_IGNORE_MERGES},
    {"llama3", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"llama-v3", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"llama-bpe", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"falcon3", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"falcon-h1", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"pixtral", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"midm-2.0", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"lfm2", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"jina-v5-nano", TOK_PRE_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"deepseek-llm", TOK_PRE_DEEPSEEK_LLM, PRE_KEEP_SPACES},
    {"deepseek-coder", TOK_PRE_DEEPSEEK_CODER, PRE_KEEP_SPACES},
    {"deepseek-v3", TOK_PRE_DEEPSEEK3_LLM, PRE_KEEP_SPACES},
    {"youtu", TOK_PRE_YOUTU, PRE_KEEP_SPACES | PRE_IGNORE_MERGES},
    {"falcon", TOK_PRE_FALCON, 0},
    {"mpt", TOK_PRE_MPT, 0},
    {"starcoder", TOK_PRE_STARCODER, 0},
    {"gpt-2", TOK_PRE_GPT2, 0},
    {"phi-2", TOK_PRE_GPT2, 0},
    {"jina-es", TOK_PRE_GPT2, 0},
    {"jina-de", TOK_PRE_GPT2, 0},
    {"gigachat", TOK_PRE_GPT2, 0},
    {"jina-v2-es", TOK_PRE_GPT2, 0},
    {"jina-v2-de", TOK_PRE_GPT2, 0},
    {"a.x-4.0", TOK_PRE_GPT2, 0},
    {"mellum", TOK_PRE_GPT2, 0},
    {"modern-bert", TOK_PRE_GPT2, 0},
    {"jais-2", TOK_PRE_JAIS2, 0},
    {"gemma4", TOK_PRE_GEMMA4, PRE_ESCAPE_WS | PRE_RAW_UTF8},
    {"granite-embed-multi-311m", TOK_PRE_GEMMA4, PRE_ESCAPE_WS | PRE_RAW_UTF8},
    {"sarvam-moe", TOK_PRE_SARVAM_MOE, PRE_ESCAPE_WS | PRE_RAW_UTF8 | PRE_KEEP_SPACES},
    {"jina-v1-en", TOK_PRE_GPT2, PRE_ADD_SEP},
    {"jina-v2-code", TOK_PRE_GPT2, PRE_ADD_SEP},
    {"roberta-bpe", TOK_PRE_GPT2, PRE_ADD_SEP},
    {"whitespace", TOK_PRE_WHITESPACE, PRE_NO_LOWERCASE | PRE_RAW_UTF8},
    {"refact", TOK_PRE_REFACT, 0},
    {"command-r", TOK_PRE_COMMAND_R, PRE_KEEP_SPACES},
    {"qwen2", TOK_PRE_QWEN2, PRE_KEEP_SPACES},
    {"deepseek-r1-qwen", TOK_PRE_QWEN2, PRE_KEEP_SPACES},
    {"kormo", TOK_PRE_QWEN2, PRE_KEEP_SPACES},
    {"f2llmv2", TOK_PRE_QWEN2, PRE_KEEP_SPACES},
    {"qwen35", TOK_PRE_QWEN35, PRE_KEEP_SPACES},
    {"stablelm2", TOK_PRE_STABLELM2, 0},
    {"olmo", TOK_PRE_OLMO, 0},
    {"dbrx", TOK_PRE_DBRX, 0},
    {"smaug-bpe", TOK_PRE_SMAUG, 0},
    {"poro-chat", TOK_PRE_PORO, PRE_KEEP_SPACES},
    {"glm4", TOK_PRE_CHATGLM4, PRE_NO_BOS},
    {"chatglm-bpe", TOK_PRE_CHATGLM4, PRE_NO_BOS},
    {"viking", TOK_PRE_VIKING, PRE_KEEP_SPACES},
    {"jais", TOK_PRE_JAIS, 0},
    {"tekken", TOK_PRE_TEKKEN, PRE_KEEP_SPACES | PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"smollm", TOK_PRE_SMOLLM, PRE_KEEP_SPACES},
    {"codeshell", TOK_PRE_CODESHELL, 0},
    {"bloom", TOK_PRE_BLOOM, 0},
    {"gpt3-finnish", TOK_PRE_GPT3_FINNISH, 0},
    {"exaone", TOK_PRE_EXAONE, 0},
    {"exaone4", TOK_PRE_GPT2, 0},
    {"exaone-moe", TOK_PRE_EXAONE_MOE, 0},
    {"chameleon", TOK_PRE_CHAMELEON, PRE_ADD_BOS | PRE_KEEP_SPACES},
    {"minerva-7b", TOK_PRE_MINERVA, 0},
    {"megrez", TOK_PRE_QWEN2, 0},
    {"gpt-4o", TOK_PRE_GPT4O, PRE_KEEP_SPACES},
    {"llama4", TOK_PRE_GPT4O, PRE_KEEP_SPACES},
    {"kanana2", TOK_PRE_GPT4O, PRE_KEEP_SPACES},
    {"talkie", TOK_PRE_GPT4O, PRE_KEEP_SPACES},
    {"granite-embed-multi-97m", TOK_PRE_GRANITE_EMB_MULTI, PRE_KEEP_SPACES | PRE_IGNORE_MERGES},
    {"tiny_aya", TOK_PRE_TINY_AYA, PRE_KEEP_SPACES},
    {"cohere2moe", TOK_PRE_TINY_AYA, PRE_KEEP_SPACES},
    {"superbpe", TOK_PRE_SUPERBPE, PRE_KEEP_SPACES},
    {"trillion", TOK_PRE_TRILLION, PRE_KEEP_SPACES},
    {"granite-docling", TOK_PRE_GRANITE_DOCLING, PRE_KEEP_SPACES},
    {"bailingmoe", TOK_PRE_BAILINGMOE, PRE_KEEP_SPACES},
    {"bailingmoe2", TOK_PRE_BAILINGMOE, PRE_KEEP_SPACES},
    {"llada-moe", TOK_PRE_BAILINGMOE, PRE_KEEP_SPACES},
    {"seed-coder", TOK_PRE_SEED_CODER, PRE_KEEP_SPACES},
    {"hunyuan", TOK_PRE_HUNYUAN, PRE_KEEP_SPACES},
    {"hunyuan-dense", TOK_PRE_HUNYUAN_DENSE, PRE_KEEP_SPACES},
    {"joyai-llm", TOK_PRE_JOYAI_LLM, PRE_KEEP_SPACES},
    {"grok-2", TOK_PRE_GROK_2, PRE_KEEP_SPACES},
    {"kimi-k2", TOK_PRE_KIMI_K2, PRE_KEEP_SPACES},
    {"afmoe", TOK_PRE_AFMOE, PRE_KEEP_SPACES},
    {"laguna", TOK_PRE_LAGUNA, PRE_KEEP_SPACES},
    {"minimax-m2", TOK_PRE_MINIMAX_M2, PRE_KEEP_SPACES},
    {"solar-open", TOK_PRE_SOLAR_OPEN, PRE_KEEP_SPACES},
    {"mellum2", TOK_PRE_MELLUM2, 0},
};

/* Shared pattern texts. */
#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define P_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define P_LLAMA3 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define P_QWEN2 CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define HAN "[\\x{4e00}-\\x{9fff}\\x{3400}-\\x{4dbf}\\x{20000}-\\x{2a6df}\\x{2a700}-\\x{2ebef}\\x{f900}-\\x{faff}\\x{2f800}-\\x{2fa1f}]"
#define P_GPT4O_BODY "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct pre_patterns {
    int kind;
    const char *re[7];
} pre_patterns;

static const pre_patterns pre_table[] = {
    {TOK_PRE_LLAMA3, {P_LLAMA3}},
    {TOK_PRE_DBRX, {P_LLAMA3}},
    {TOK_PRE_SMAUG, {P_LLAMA3}},
    {TOK_PRE_CHATGLM4, {P_LLAMA3}},
    {TOK_PRE_JAIS2, {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"}},
    {TOK_PRE_DEEPSEEK_LLM, {
        "[\r\n]",
        "\\s?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}\\x{1c4}-\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37b}-\\x{37d}\\x{37f}\\x{386}\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}\\x{3a3}-\\x{3f5}\\x{3f7}-\\x{481}\\x{48a}-\\x{52f}\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}\\x{13a0}-\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}\\x{1cbd}-\\x{1cbf}\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}\\x{1d79}-\\x{1d9a}\\x{1e00}-\\x{1f15}\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}\\x{1f50}-\\x{1f57}\\x{1f59}\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}\\x{1fc2}-\\x{1fc4}\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}\\x{1ff2}-\\x{1ff4}\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}\\x{2124}\\x{2126}\\x{2128}\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}\\x{2145}-\\x{2149}\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-\\x{2cee}\\x{2cf2}\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}\\x{a771}-\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}\\x{fb00}-\\x{fb06}\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+",
        "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+",
        "\\s+$",
        "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+",
        "\\p{N}+"}},
    {TOK_PRE_DEEPSEEK3_LLM, {"\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_HUNYUAN_DENSE, {"\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_JOYAI_LLM, {"\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_YOUTU, {"[\\x{ac00}-\\x{d7a3}\\x{3131}-\\x{318e}]+|[\\x{ff01}\\x{2026}\\x{201c}\\x{201d}\\x{2018}\\x{2019}\\x{2014}\\x{ff1a}\\x{ff1b}\\x{ff0c}\\x{3001}-\\x{303f}\\x{fe30}-\\x{fe4f}]+|[\\x{3105}-\\x{312f}]+|[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" CONTRACTIONS "?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_DEEPSEEK_CODER, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+", "\\p{N}"}},
    {TOK_PRE_FALCON, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", P_GPT2, "[0-9][0-9][0-9]"}},
    {TOK_PRE_STARCODER, {"\\p{N}", P_GPT2}},
    {TOK_PRE_REFACT, {"\\p{N}", P_GPT2}},
    {TOK_PRE_COMMAND_R, {"\\p{N}", P_GPT2}},
    {TOK_PRE_SMOLLM, {"\\p{N}", P_GPT2}},
    {TOK_PRE_CODESHELL, {"\\p{N}", P_GPT2}},
    {TOK_PRE_EXAONE, {"\\p{N}", P_GPT2}},
    {TOK_PRE_MINERVA, {"\\p{N}", P_GPT2}},
    {TOK_PRE_MELLUM2, {"\\p{N}", P_GPT2}},
    {TOK_PRE_GPT2, {P_GPT2}},
    {TOK_PRE_MPT, {P_GPT2}},
    {TOK_PRE_OLMO, {P_GPT2}},
    {TOK_PRE_JAIS, {P_GPT2}},
    {TOK_PRE_TRILLION, {P_GPT2}},
    {TOK_PRE_GRANITE_DOCLING, {P_GPT2}},
    {TOK_PRE_STABLELM2, {P_QWEN2}},
    {TOK_PRE_QWEN2, {P_QWEN2}},
    {TOK_PRE_HUNYUAN, {P_QWEN2}},
    {TOK_PRE_SOLAR_OPEN, {P_QWEN2}},
    {TOK_PRE_GROK_2, {P_QWEN2}},
    {TOK_PRE_QWEN35, {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_PORO, {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+"}},
    {TOK_PRE_BLOOM, {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+"}},
    {TOK_PRE_GPT3_FINNISH, {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+"}},
    {TOK_PRE_VIKING, {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+", "\\p{N}"}},
    {TOK_PRE_TEKKEN, {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_CHAMELEON, {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
        "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", P_GPT2}},
    {TOK_PRE_GPT4O, {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" CONTRACTIONS "?" P_GPT4O_BODY}},
    {TOK_PRE_MINIMAX_M2, {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" CONTRACTIONS "?" P_GPT4O_BODY}},
    {TOK_PRE_GRANITE_EMB_MULTI, {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*" CONTRACTIONS "?" P_GPT4O_BODY}},
    {TOK_PRE_SUPERBPE, {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"}},
    {TOK_PRE_BAILINGMOE, {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_SEED_CODER, {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_LAGUNA, {"[^\\n]+|[\\n]+", P_QWEN2}},
    {TOK_PRE_EXAONE_MOE, {CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_GEMMA4, {"[^\\n]+|[\\n]+"}},
    {TOK_PRE_SARVAM_MOE, {"[^\\n]+|[\\n]+"}},
    {TOK_PRE_MINICPM5, {"\\p{N}{1,3}", CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_WHITESPACE, {"\\S+"}},
    /* llama.cpp splits digit runs by length modulo 3 with a hand-written
     * pass that also glues the preceding text to the first group; the
     * marker is handled in C below. */
    {TOK_PRE_AFMOE, {"@afmoe-digits", "[\\x{4e00}-\\x{9fff}\\x{3400}-\\x{4dbf}\\x{8c48}-\\x{faff}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}\\x{ff65}-\\x{ff9f}\\x{2f00}-\\x{2fdf}\\x{e40}-\\x{e7f}\\x{e80}-\\x{eff}\\x{1780}-\\x{17ff}\\x{1000}-\\x{109f}\\x{aa60}-\\x{aa7f}\\x{a9e0}-\\x{a9ff}\\x{ac00}-\\x{d7af}\\x{1100}-\\x{11ff}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_TINY_AYA, {"@afmoe-digits",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    /* llama.cpp's hand-written Kimi-K2 pass: Han runs, then letter runs
     * that exclude Han (no case distinction), otherwise as llama3 */
    {TOK_PRE_KIMI_K2, {HAN "+|[^\\r\\n\\p{L}\\p{N}]?(?:(?!" HAN ")\\p{L})+" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {TOK_PRE_DEFAULT, {"[\\p{P}\\$\\+<=>\\^~\\|]+", P_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
};

#define WS_CLASS "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
#define STANDIN 0xE000u

typedef struct pre_re {
    pcre2_code *code;     /* NULL for the digit-group pass */
    bool afmoe_digits;
} pre_re;

struct tok_pretok {
    pre_re re[8];
    int n;
    pcre2_code *is_number;  /* \p{N}, for the digit-group pass */
};

bool tok_pretok_resolve(rf_vocab *v, const char *pre)
{
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++) {
        if (strcmp(pre_names[i].name, pre))
            continue;
        int fl = pre_names[i].flags;
        v->pre = pre_names[i].kind;
        if (fl & PRE_IGNORE_MERGES)
            v->ignore_merges = true;
        if (fl & PRE_ADD_BOS)
            v->add_bos = true;
        if (fl & PRE_KEEP_SPACES)
            v->clean_spaces = false;
        if (fl & PRE_ESCAPE_WS)
            v->escape_ws = true;
        if (fl & PRE_RAW_UTF8)
            v->byte_encode = false;
        if (fl & PRE_ADD_SEP)
            v->add_sep = true;
        if (fl & PRE_NO_BOS)
            v->bos = -1;
        if (fl & PRE_NO_LOWERCASE)
            v->lowercase = false;
        return true;
    }
    return false;
}

/* \s -> llama.cpp's whitespace class, \S -> its complement, \d -> [0-9]. */
static char *rewrite_pattern(const char *re)
{
    size_t n = strlen(re);
    char *out = malloc(n * 48 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char e = re[i + 1];
            const char *rep = NULL;
            if (e == 's')
                rep = in_class ? WS_CLASS : "[" WS_CLASS "]";
            else if (e == 'S' && !in_class)
                rep = "[^" WS_CLASS "]";
            else if (e == 'd')
                rep = in_class ? "0-9" : "[0-9]";
            else if (e == 'p' && i + 5 < n && re[i + 2] == '{' && re[i + 3] == 'L' && re[i + 5] == '}' &&
                     strchr("ultmo", re[i + 4])) {
                /* llama.cpp runs these patterns on text collapsed to one
                 * byte per category, where \p{Lu} .. \p{Lo} all mean \p{L} */
                memcpy(out + o, "\\p{L}", 5);
                o += 5;
                i += 5;
                continue;
            }
            if (rep) {
                size_t rl = strlen(rep);
                memcpy(out + o, rep, rl);
                o += rl;
            } else {
                out[o++] = c;
                out[o++] = e;
            }
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out[o++] = c;
            /* a ']' or '^]' right after '[' is literal */
            if (i + 1 < n && re[i + 1] == '^') {
                out[o++] = re[++i];
            }
            if (i + 1 < n && re[i + 1] == ']')
                out[o++] = re[++i];
            continue;
        }
        if (in_class && c == ']')
            in_class = false;
        out[o++] = c;
    }
    out[o] = 0;
    return out;
}

static pcre2_code *compile_re(const char *re, rf_error *err, rf_status *st)
{
    char *rw = rewrite_pattern(re);
    if (!rw) {
        *st = rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory compiling a split pattern");
        return NULL;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)rw, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        *st = rf_err(err, RF_ERR_UNSUPPORTED, "tokenizer: split pattern does not compile at %zu: %s (%s)",
                     (size_t)eo, (const char *)msg, rw);
        free(rw);
        return NULL;
    }
    free(rw);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  /* optional: falls back to the interpreter */
    *st = RF_OK;
    return code;
}

void tok_pretok_free(tok_pretok *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        pcre2_code_free(p->re[i].code);
    pcre2_code_free(p->is_number);
    free(p);
}

rf_status tok_pretok_compile(rf_vocab *v, rf_error *err)
{
    const pre_patterns *pp = NULL;
    for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++)
        if (pre_table[i].kind == v->pre)
            pp = &pre_table[i];
    if (!pp)
        return rf_err(err, RF_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer '%s' has no split patterns", v->pre_name);
    tok_pretok *p = calloc(1, sizeof *p);
    if (!p)
        return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the pre-tokenizer");
    v->pretok = p;
    rf_status st = RF_OK;
    for (int i = 0; i < 7 && pp->re[i]; i++) {
        if (!strcmp(pp->re[i], "@afmoe-digits")) {
            p->re[p->n++].afmoe_digits = true;
            if (!p->is_number && !(p->is_number = compile_re("\\p{N}", err, &st)))
                return st;
            continue;
        }
        pcre2_code *c = compile_re(pp->re[i], err, &st);
        if (!c)
            return st;
        p->re[p->n++].code = c;
    }
    return RF_OK;
}

/* ---------------------------------------------------------------- split */

static bool is_llama_ws(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

typedef struct seg_list {
    uint32_t *v;   /* segment lengths in code points */
    size_t n, cap;
} seg_list;

static bool seg_push(seg_list *s, size_t len)
{
    if (!len)
        return true;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint32_t *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return false;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (uint32_t)len;
    return true;
}

typedef struct split_ctx {
    pcre2_match_context *mc;  /* with a big JIT stack, made on first need */
    pcre2_jit_stack *js;
    const char *mt;       /* match text: valid UTF-8 */
    uint32_t *cp_byte;    /* (n_cp + 1) byte offset of each code point in mt */
    uint32_t *byte_cp;    /* (mt_len + 1) code point index at each byte */
    const uint32_t *cps;
    size_t n_cp;
} split_ctx;

/* One pattern over one segment [s, e) of code points: matches and the gaps
 * between them become segments. Empty matches are stepped over the way
 * std::regex_iterator does (retry non-empty at the same place, else move
 * one character on). */
/* pcre2_match, escalating when a long match exhausts the default 32 KiB
 * JIT stack: first a JIT stack of up to 256 MiB, then the interpreter with
 * a 1 GiB heap limit. */
static int match_big(split_ctx *c, pcre2_code *code, const char *subj, size_t len, size_t pos, uint32_t opts,
                     pcre2_match_data *md)
{
    int rc = pcre2_match(code, (PCRE2_SPTR)subj, len, pos, opts | PCRE2_NO_UTF_CHECK, md, c->mc);
    if (rc != PCRE2_ERROR_JIT_STACKLIMIT && rc != PCRE2_ERROR_HEAPLIMIT)
        return rc;
    if (!c->mc) {
        c->mc = pcre2_match_context_create(NULL);
        c->js = pcre2_jit_stack_create(32 * 1024, 256 * 1024 * 1024, NULL);
        if (!c->mc || !c->js)
            return rc;
        pcre2_jit_stack_assign(c->mc, NULL, c->js);
        pcre2_set_heap_limit(c->mc, 1024 * 1024);  /* KiB */
        rc = pcre2_match(code, (PCRE2_SPTR)subj, len, pos, opts | PCRE2_NO_UTF_CHECK, md, c->mc);
        if (rc != PCRE2_ERROR_JIT_STACKLIMIT && rc != PCRE2_ERROR_HEAPLIMIT)
            return rc;
    }
    return pcre2_match(code, (PCRE2_SPTR)subj, len, pos, opts | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, c->mc);
}

static int split_segment_re(split_ctx *c, pcre2_code *code, pcre2_match_data *md, size_t s, size_t e,
                            seg_list *out)
{
    const char *subj = c->mt + c->cp_byte[s];
    size_t len = c->cp_byte[e] - c->cp_byte[s];
    size_t base = c->cp_byte[s];
    size_t pos = 0, prev_end = 0;
    uint32_t opts = 0;
    while (pos <= len) {
        int rc = match_big(c, code, subj, len, pos, opts, md);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts)
                break;
            /* the non-empty retry failed: move one character on */
            opts = 0;
            if (pos >= len)
                break;
            size_t cp = c->byte_cp[base + pos];
            pos = c->cp_byte[cp + 1] - base;
            continue;
        }
        if (rc < 0) {
            /* past even the raised limits: keep the rest of the segment whole */
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > prev_end &&
            !seg_push(out, c->byte_cp[base + ms] - c->byte_cp[base + prev_end]))
            return -1;
        if (!seg_push(out, c->byte_cp[base + me] - c->byte_cp[base + ms]))
            return -1;
        prev_end = me;
        pos = me;
        opts = ms == me ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
    }
    if (prev_end < len && !seg_push(out, c->byte_cp[base + len] - c->byte_cp[base + prev_end]))
        return -1;
    return 0;
}

/* llama.cpp's digit-group pass: a run of n digits is cut into n % 3 leading
 * digits then groups of 3; the text before a run is glued to its first
 * piece. */
static int split_segment_digits(split_ctx *c, const tok_pretok *p, pcre2_match_data *md, size_t s, size_t e,
                                seg_list *out)
{
    size_t prev_end = s;
    for (size_t pos = s; pos < e;) {
        const char *ch = c->mt + c->cp_byte[pos];
        size_t chl = c->cp_byte[pos + 1] - c->cp_byte[pos];
        bool num = pcre2_match(p->is_number, (PCRE2_SPTR)ch, chl, 0, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, md, NULL) >= 0;
        if (!num) {
            pos++;
            continue;
        }
        size_t start = pos, count = 0;
        while (pos < e) {
            ch = c->mt + c->cp_byte[pos];
            chl = c->cp_byte[pos + 1] - c->cp_byte[pos];
            if (pcre2_match(p->is_number, (PCRE2_SPTR)ch, chl, 0, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, md, NULL) < 0)
                break;
            pos++;
            count++;
        }
        size_t cur = start, rem = count % 3;
        if (rem) {
            if (!seg_push(out, cur + rem - prev_end))
                return -1;
            cur += rem;
            prev_end = cur;
        }
        while (cur < start + count) {
            if (!seg_push(out, cur + 3 - prev_end))
                return -1;
            cur += 3;
            prev_end = cur;
        }
    }
    if (prev_end < e && !seg_push(out, e - prev_end))
        return -1;
    return 0;
}

int tok_pretok_split(const rf_vocab *v, const char *text, size_t len, tok_word_fn fn, void *ctx)
{
    const tok_pretok *p = v->pretok;
    int rc = -1;
    uint32_t *cps = malloc((len + 1) * sizeof *cps);
    char *mt = malloc(len * 3 + 4);          /* stand-ins never grow a code point past 3 bytes per input byte */
    uint32_t *cp_byte = malloc((len + 2) * sizeof *cp_byte);
    uint32_t *byte_cp = malloc((len * 3 + 5) * sizeof *byte_cp);
    char *word = NULL;
    seg_list a = {0}, b = {0};
    pcre2_match_data *md = NULL;
    split_ctx c = {0};
    if (!cps || !mt || !cp_byte || !byte_cp)
        goto done;

    /* decode with llama.cpp's rules; build the match text */
    size_t n_cp = 0, mo = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = tok_utf8_decode((const uint8_t *)text, len, &i);
        cps[n_cp] = cp;
        cp_byte[n_cp] = (uint32_t)mo;
        uint32_t m = (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF ? STANDIN : cp;
        if (m >= 0x80 && is_llama_ws(m))
            m = 0x0B;  /* as llama.cpp: non-ASCII whitespace is matched as \v */
        int k = tok_utf8_encode(m, mt + mo);
        for (int j = 0; j < k; j++)
            byte_cp[mo + (size_t)j] = (uint32_t)n_cp;
        mo += (size_t)k;
        n_cp++;
    }
    cp_byte[n_cp] = (uint32_t)mo;
    byte_cp[mo] = (uint32_t)n_cp;
    c.mt = mt;
    c.cp_byte = cp_byte;
    c.byte_cp = byte_cp;
    c.cps = cps;
    c.n_cp = n_cp;

    md = pcre2_match_data_create(16, NULL);
    if (!md || !seg_push(&a, n_cp))
        goto done;
    for (int r = 0; r < p->n; r++) {
        b.n = 0;
        size_t s = 0;
        for (size_t k = 0; k < a.n; k++) {
            size_t e = s + a.v[k];
            int sr = p->re[r].afmoe_digits ? split_segment_digits(&c, p, md, s, e, &b)
                                            : split_segment_re(&c, p->re[r].code, md, s, e, &b);
            if (sr)
                goto done;
            s = e;
        }
        seg_list t = a;
        a = b;
        b = t;
    }

    /* re-encode each word (byte-level when the vocab is) and hand it on */
    size_t max_seg = 0;
    for (size_t k = 0; k < a.n; k++)
        if (a.v[k] > max_seg)
            max_seg = a.v[k];
    word = malloc(max_seg * 8 + 8);
    if (!word)
        goto done;
    size_t s = 0;
    for (size_t k = 0; k < a.n; k++) {
        size_t wn = 0;
        for (size_t i = s; i < s + a.v[k]; i++) {
            char u[4];
            int nu = tok_utf8_encode(cps[i], u);
            if (nu == 0)
                nu = tok_utf8_encode(0xFFFD, u);
            if (v->byte_encode) {
                for (int j = 0; j < nu; j++)
                    wn += (size_t)tok_utf8_encode(tok_byte_to_cp((uint8_t)u[j]), word + wn);
            } else {
                memcpy(word + wn, u, (size_t)nu);
                wn += (size_t)nu;
            }
        }
        if (fn(ctx, word, wn))
            goto done;
        s += a.v[k];
    }
    rc = 0;
done:
    pcre2_match_data_free(md);
    pcre2_match_context_free(c.mc);
    pcre2_jit_stack_free(c.js);
    free(cps);
    free(mt);
    free(cp_byte);
    free(byte_cp);
    free(word);
    free(a.v);
    free(b.v);
    return rc;
}
