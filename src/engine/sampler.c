/* sampler.c — the sampler chain: logits in, one token id out.
 *
 * Order and semantics follow llama.cpp's default chain (common/sampling.cpp,
 * src/llama-sampler.cpp), so that the same parameters mean the same thing:
 *
 *   penalties -> logit bias -> top-k -> typical -> top-p -> min-p
 *             -> temperature -> draw
 *
 *   penalties   over the last repeat_last_n accepted tokens (-1: all of
 *               them, 0: off): a token seen c > 0 times gets its logit
 *               divided by repeat_penalty when positive, multiplied when
 *               negative (so it always becomes less likely), then minus
 *               c * frequency_penalty + presence_penalty.
 *   top-k       the k largest logits (k <= 0: off).
 *   typical     locally typical sampling (Meister et al.): candidates sorted
 *               by |-log p - H|, the shortest prefix whose mass exceeds
 *               typical_p.
 *   top-p       the smallest prefix, by decreasing probability, whose mass is
 *               >= top_p.
 *   min-p       tokens with p >= min_p * p_max.
 *   temperature logits / T; T <= 0 means greedy: the argmax after penalties
 *               and bias, nothing random.
 *   draw        one token from softmax of what is left.
 *
 * Probabilities inside the filters are computed in float with expf in the
 * same order as llama.cpp so the kept sets match it exactly at the boundary;
 * the final draw accumulates in double.
 *
 * Randomness: xoshiro256** (Blackman & Vigna, 2018) seeded through
 * splitmix64 from rf_sampler_params.seed: the same seed and the same logits
 * give the same tokens on every platform. A draw consumes exactly one 64-bit
 * output (53 bits -> a double in [0, 1)).
 *
 * Memory: every buffer is sized at creation from n_vocab (candidates,
 * scratch, the penalty window); sampling allocates nothing.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "engine/engine.h"
#include "engine/sampler_internal.h"
#include "model/model.h"

typedef struct smp_cand {
    int32_t id;
    float logit;
    float p;
} smp_cand;

struct rf_sampler {
    rf_sampler_params p;     /* p.logit_bias points at bias below */
    int n_vocab;
    rf_logit_bias *bias;     /* (n_bias) validated copy */
    int32_t *count;          /* (n_vocab) occurrences inside the penalty window */
    int32_t *ring;           /* (ring_cap) window of accepted tokens; NULL when unbounded/off */
    int ring_cap, ring_len, ring_head;   /* ring_head: index of the oldest */
    smp_cand *c;             /* (n_vocab) working candidates */
    smp_cand *tmp;           /* (n_vocab) scratch (typical reorder) */
    float *score;            /* (n_vocab) typical: shifted scores */
    int32_t *idx;            /* (n_vocab) typical: order */
    uint64_t rng[4];
    /* the adjustments handed to a device greedy pick (rf_sample) */
    int32_t *pen_tok, *pen_cnt;   /* (pen_cap) */
    int pen_cap;
    int32_t *bias_tok;            /* (n_logit_bias) */
    float *bias_val;
};

/* ------------------------------------------------------------ generator */

static uint64_t smp_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t smp_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t smp_next(uint64_t s[4])
{
    uint64_t result = smp_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = smp_rotl(s[3], 45);
    return result;
}

static void smp_seed(rf_sampler *s, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = smp_splitmix64(&x);
}

double rf_sampler_uniform(rf_sampler *s)
{
    return (double)(smp_next(s->rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------- ordering */

/* Descending by logit; ties by ascending id so the order is total. */
static int smp_cmp_desc(const void *a, const void *b)
{
    const smp_cand *x = a, *y = b;
    if (x->logit > y->logit) return -1;
    if (x->logit < y->logit) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

static inline bool smp_before(const smp_cand *x, const smp_cand *y) { return smp_cmp_desc(x, y) < 0; }

static inline void smp_swap(smp_cand *a, smp_cand *b) { smp_cand t = *a; *a = *b; *b = t; }

/* Moves the k best candidates to c[0..k) (in no order): quickselect with a
 * median-of-three pivot; iterative, no recursion depth to worry about. */
static void smp_select_top(smp_cand *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (smp_before(&c[mid], &c[lo])) smp_swap(&c[mid], &c[lo]);
        if (smp_before(&c[hi], &c[lo])) smp_swap(&c[hi], &c[lo]);
        if (smp_before(&c[hi], &c[mid])) smp_swap(&c[hi], &c[mid]);
        smp_cand pivot = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (smp_before(&c[i], &pivot)) i++;
            while (smp_before(&pivot, &c[j])) j--;
            if (i <= j) { smp_swap(&c[i], &c[j]); i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* Sorts the k best of c[0..n) into c[0..k), descending. */
static void smp_partial_sort(smp_cand *c, int n, int k)
{
    if (k < n)
        smp_select_top(c, n, k);
    qsort(c, (size_t)k, sizeof *c, smp_cmp_desc);
}

/* p = softmax(logit) over c[0..n), in float like llama.cpp. */
static void smp_softmax(smp_cand *c, int n)
{
    float mx = c[0].logit;
    for (int i = 1; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit - mx);
        sum += c[i].p;
    }
    for (int i = 0; i < n; i++)
        c[i].p /= sum;
}

/* --------------------------------------------------------------- create */

rf_sampler_params rf_sampler_default_params(void)
{
    /* llama.cpp's defaults (common_params_sampling). */
    rf_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.typical_p = 1.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    p.seed = 0;
    return p;
}

static rf_status smp_validate(int n_vocab, const rf_sampler_params *p, rf_error *err)
{
    if (n_vocab <= 0)
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: vocabulary size %d must be positive", n_vocab);
    if (!(p->temperature >= 0.0f) || isinf(p->temperature))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: temperature must be a finite value >= 0 (got %g)", (double)p->temperature);
    if (p->top_k < 0)
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: top_k must be >= 0 (got %d; 0 turns it off)", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: top_p must be in (0, 1] (got %g; 1 turns it off)", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: min_p must be in [0, 1] (got %g; 0 turns it off)", (double)p->min_p);
    if (!(p->typical_p > 0.0f && p->typical_p <= 1.0f))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: typical_p must be in (0, 1] (got %g; 1 turns it off)", (double)p->typical_p);
    if (!isfinite(p->repeat_penalty) || !(p->repeat_penalty > 0.0f))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: repeat_penalty must be finite and > 0 (got %g; 1 turns it off)", (double)p->repeat_penalty);
    if (!isfinite(p->presence_penalty))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: presence_penalty must be finite (got %g)", (double)p->presence_penalty);
    if (!isfinite(p->frequency_penalty))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: frequency_penalty must be finite (got %g)", (double)p->frequency_penalty);
    if (p->repeat_last_n < -1)
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: repeat_last_n must be >= -1 (got %d; -1 = whole context, 0 = off)", p->repeat_last_n);
    if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias))
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: n_logit_bias %d without a logit_bias array", p->n_logit_bias);
    for (int i = 0; i < p->n_logit_bias; i++) {
        const rf_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return rf_err(err, RF_ERR_INVALID_ARG, "sampler: logit_bias[%d] token id %d out of range [0, %d)", i, (int)b->token, n_vocab);
        /* -inf bans a token; NaN and +inf have no meaning. */
        if (isnan(b->bias) || (isinf(b->bias) && b->bias > 0))
            return rf_err(err, RF_ERR_INVALID_ARG, "sampler: logit_bias[%d] (token %d) bias %g must be finite or -inf", i, (int)b->token, (double)b->bias);
    }
    return RF_OK;
}

rf_status rf_sampler_create_n(int n_vocab, const rf_sampler_params *p, rf_sampler **out, rf_error *err)
{
    if (!out)
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: NULL output handle");
    *out = NULL;
    if (!p)
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: NULL parameters");
    rf_status st = smp_validate(n_vocab, p, err);
    if (st != RF_OK)
        return st;
    rf_sampler *s = rf_calloc(1, sizeof *s, err, "sampler");
    if (!s)
        return RF_ERR_NOMEM;
    s->p = *p;
    s->n_vocab = n_vocab;
    size_t nv = (size_t)n_vocab;
    s->count = rf_calloc(nv, sizeof *s->count, err, "sampler penalty counts");
    s->c = rf_malloc(nv * sizeof *s->c, err, "sampler candidates");
    s->tmp = rf_malloc(nv * sizeof *s->tmp, err, "sampler scratch");
    s->score = rf_malloc(nv * sizeof *s->score, err, "sampler scores");
    s->idx = rf_malloc(nv * sizeof *s->idx, err, "sampler order");
    if (!s->count || !s->c || !s->tmp || !s->score || !s->idx)
        goto nomem;
    if (p->n_logit_bias > 0) {
        s->bias = rf_malloc((size_t)p->n_logit_bias * sizeof *s->bias, err, "sampler logit bias");
        if (!s->bias)
            goto nomem;
        memcpy(s->bias, p->logit_bias, (size_t)p->n_logit_bias * sizeof *s->bias);
    }
    s->p.logit_bias = s->bias;
    if (p->n_logit_bias > 0) {
        s->bias_tok = rf_malloc((size_t)p->n_logit_bias * sizeof *s->bias_tok, err, "sampler bias tokens");
        s->bias_val = rf_malloc((size_t)p->n_logit_bias * sizeof *s->bias_val, err, "sampler bias values");
        if (!s->bias_tok || !s->bias_val)
            goto nomem;
        for (int i = 0; i < p->n_logit_bias; i++) {
            s->bias_tok[i] = s->bias[i].token;
            s->bias_val[i] = s->bias[i].bias;
        }
    }
    /* distinct penalised tokens: at most the window, or the vocabulary */
    s->pen_cap = p->repeat_last_n > 0 && p->repeat_last_n < n_vocab ? p->repeat_last_n : n_vocab;
    if (p->repeat_last_n != 0) {
        s->pen_tok = rf_malloc((size_t)s->pen_cap * sizeof *s->pen_tok, err, "sampler penalised tokens");
        s->pen_cnt = rf_malloc((size_t)s->pen_cap * sizeof *s->pen_cnt, err, "sampler penalty counts");
        if (!s->pen_tok || !s->pen_cnt)
            goto nomem;
    }
    if (p->repeat_last_n > 0) {
        s->ring_cap = p->repeat_last_n;
        s->ring = rf_malloc((size_t)s->ring_cap * sizeof *s->ring, err, "sampler penalty window");
        if (!s->ring)
            goto nomem;
    }
    smp_seed(s, p->seed);
    *out = s;
    return RF_OK;
nomem:
    rf_sampler_free(s);
    return RF_ERR_NOMEM;
}

rf_status rf_sampler_create(const rf_model *m, const rf_sampler_params *p, rf_sampler **out, rf_error *err)
{
    if (!m) {
        if (out) *out = NULL;
        return rf_err(err, RF_ERR_INVALID_ARG, "sampler: NULL model");
    }
    rf_model_info info;
    rf_model_get_info(m, &info);
    return rf_sampler_create_n(info.n_vocab, p, out, err);
}

void rf_sampler_free(rf_sampler *s)
{
    if (!s)
        return;
    free(s->count);
    free(s->ring);
    free(s->c);
    free(s->tmp);
    free(s->score);
    free(s->idx);
    free(s->bias);
    free(s->bias_tok);
    free(s->bias_val);
    free(s->pen_tok);
    free(s->pen_cnt);
    free(s);
}

void rf_sampler_reset(rf_sampler *s)
{
    if (!s)
        return;
    memset(s->count, 0, (size_t)s->n_vocab * sizeof *s->count);
    s->ring_len = s->ring_head = 0;
    smp_seed(s, s->p.seed);
}

void rf_sampler_accept(rf_sampler *s, int32_t tok)
{
    if (!s || s->p.repeat_last_n == 0 || tok < 0 || tok >= s->n_vocab)
        return;
    if (s->ring) {
        if (s->ring_len == s->ring_cap) {
            /* window full: the oldest token leaves */
            s->count[s->ring[s->ring_head]]--;
            s->ring[s->ring_head] = tok;
            s->ring_head = (s->ring_head + 1) % s->ring_cap;
        } else {
            s->ring[(s->ring_head + s->ring_len) % s->ring_cap] = tok;
            s->ring_len++;
        }
    }
    if (s->count[tok] < INT32_MAX)
        s->count[tok]++;
}

/* ---------------------------------------------------------------- chain */

static bool smp_penalties_on(const rf_sampler *s)
{
    const rf_sampler_params *p = &s->p;
    return p->repeat_last_n != 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

/* Candidates from logits with penalties and bias applied; returns count. */
static int smp_prepare(rf_sampler *s, const float *logits)
{
    const rf_sampler_params *p = &s->p;
    int n = s->n_vocab;
    smp_cand *c = s->c;
    for (int i = 0; i < n; i++) {
        float l = logits[i];
        c[i].id = i;
        c[i].logit = isnan(l) ? -INFINITY : l;
        c[i].p = 0.0f;
    }
    if (smp_penalties_on(s)) {
        for (int i = 0; i < n; i++) {
            int cnt = s->count[i];
            if (cnt <= 0)
                continue;
            float l = c[i].logit;
            l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
            l -= (float)cnt * p->frequency_penalty + p->presence_penalty;
            c[i].logit = l;
        }
    }
    for (int i = 0; i < p->n_logit_bias; i++)
        c[s->bias[i].token].logit += s->bias[i].bias;
    return n;
}

/* Top-p beyond the first k candidates (c[0..k) sorted, holding mass `cum`,
 * every later logit <= c[k-1]'s): buckets the rest by logit (counting sort
 * into tmp), adds whole buckets while the mass stays below top_p, and sorts
 * only the bucket where the running sum crosses it. Same kept set as sorting
 * everything, in O(n) plus one small sort; the kept tail is ordered by
 * bucket, not fully sorted (later stages do not need order). Returns the
 * number of candidates kept. */
#define SMP_TOP_P_BUCKETS 512
static int smp_top_p_rest(rf_sampler *s, int k, int n, float cum, float top_p)
{
    smp_cand *c = s->c, *rest = c + k, *tmp = s->tmp;
    const int m = n - k;
    float hi = -INFINITY, lo = INFINITY;
    for (int i = 0; i < m; i++) {
        float l = rest[i].logit;
        if (l > hi) hi = l;
        if (l < lo && l > -INFINITY) lo = l;
    }
    int count[SMP_TOP_P_BUCKETS + 1] = {0};
    float mass[SMP_TOP_P_BUCKETS] = {0};
    const float scale = hi > lo ? (SMP_TOP_P_BUCKETS - 1) / (hi - lo) : 0.0f;
    for (int i = 0; i < m; i++) {
        float l = rest[i].logit;
        int b = l > -INFINITY ? (int)((hi - l) * scale) : SMP_TOP_P_BUCKETS - 1;
        if (b < 0) b = 0;
        if (b > SMP_TOP_P_BUCKETS - 1) b = SMP_TOP_P_BUCKETS - 1;
        count[b + 1]++;
        mass[b] += rest[i].p;
        s->idx[i] = b;
    }
    for (int b = 0; b < SMP_TOP_P_BUCKETS; b++)
        count[b + 1] += count[b];   /* count[b]: start of bucket b */
    for (int i = 0; i < m; i++)
        tmp[count[s->idx[i]]++] = rest[i];
    /* count[b] is now the end of bucket b */
    memcpy(rest, tmp, (size_t)m * sizeof *rest);
    int start = 0;
    for (int b = 0; b < SMP_TOP_P_BUCKETS; b++) {
        int end = count[b];
        if (end == start) continue;
        if (cum + mass[b] < top_p) {
            cum += mass[b];
            start = end;
            continue;
        }
        qsort(rest + start, (size_t)(end - start), sizeof *rest, smp_cmp_desc);
        for (int i = start; i < end; i++) {
            cum += rest[i].p;
            if (cum >= top_p)
                return k + i + 1;
        }
        start = end;
    }
    return n;   /* rounding kept the sum below top_p: keep everything, as llama.cpp does */
}

/* Runs the filters and temperature; returns the candidate count (>= 1). */
static int smp_filter(rf_sampler *s, int n)
{
    const rf_sampler_params *p = &s->p;
    smp_cand *c = s->c;
    bool sorted = false;

    if (p->temperature <= 0.0f) {
        /* greedy: first maximum, like llama.cpp's greedy sampler */
        int best = 0;
        for (int i = 1; i < n; i++)
            if (c[i].logit > c[best].logit)
                best = i;
        c[0] = c[best];
        return 1;
    }

    if (p->top_k > 0) {
        int k = p->top_k < n ? p->top_k : n;
        smp_partial_sort(c, n, k);
        n = k;
        sorted = true;
    }

    if (p->typical_p < 1.0f) {
        if (!sorted)
            qsort(c, (size_t)n, sizeof *c, smp_cmp_desc);
        smp_softmax(c, n);
        float entropy = 0.0f;
        for (int i = 0; i < n; i++)
            if (c[i].p > 0.0f)
                entropy += -c[i].p * logf(c[i].p);
        for (int i = 0; i < n; i++) {
            s->score[i] = fabsf(-logf(c[i].p) - entropy);
            s->idx[i] = i;
        }
        /* order by ascending score: (index, -score) pairs in tmp sorted
         * with the descending comparator */
        for (int i = 0; i < n; i++) {
            s->tmp[i].id = i;
            s->tmp[i].logit = -s->score[i];   /* descending by -score = ascending score */
        }
        qsort(s->tmp, (size_t)n, sizeof *s->tmp, smp_cmp_desc);
        float cum = 0.0f;
        int last = n;
        for (int i = 0; i < n; i++) {
            cum += c[s->tmp[i].id].p;
            if (cum > p->typical_p) {   /* min_keep 1 */
                last = i + 1;
                break;
            }
        }
        for (int i = 0; i < last; i++)
            s->idx[i] = s->tmp[i].id;
        for (int i = 0; i < last; i++)
            s->tmp[i] = c[s->idx[i]];
        memcpy(c, s->tmp, (size_t)last * sizeof *c);
        n = last;
        sorted = false;
    }

    if (p->top_p < 1.0f) {
        smp_softmax(c, n);
        int k = n;
        if (!sorted && n > 1024) {
            /* most of the mass usually sits in a few hundred tokens */
            k = 256;
            smp_partial_sort(c, n, k);
        } else if (!sorted) {
            qsort(c, (size_t)n, sizeof *c, smp_cmp_desc);
        }
        float cum = 0.0f;
        int last = n;
        for (int i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                last = i + 1;
                break;
            }
            if (i == k - 1 && k < n) {
                /* not enough in the first k (a flat distribution): find
                 * the cut among the rest without sorting all of them */
                last = smp_top_p_rest(s, k, n, cum, p->top_p);
                break;
            }
        }
        n = last;
        sorted = true;
    }

    if (p->min_p > 0.0f) {
        float mx = c[0].logit;
        for (int i = 1; i < n; i++)
            if (c[i].logit > mx)
                mx = c[i].logit;
        const float min_logit = mx + logf(p->min_p);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (c[i].logit >= min_logit)
                c[m++] = c[i];
        if (m > 0)
            n = m;
    }

    for (int i = 0; i < n; i++)
        c[i].logit /= p->temperature;
    return n;
}

int32_t rf_sampler_sample(rf_sampler *s, const float *logits)
{
    if (!s || !logits)
        return -1;
    int n = smp_filter(s, smp_prepare(s, logits));
    smp_cand *c = s->c;
    if (n == 1)
        return c[0].id;
    double mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (c[i].logit > mx)
            mx = c[i].logit;
    if (mx == -INFINITY)   /* everything banned: nothing better to offer */
        return c[0].id;
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += exp((double)c[i].logit - mx);
    double u = rf_sampler_uniform(s) * sum;
    double acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += exp((double)c[i].logit - mx);
        if (u < acc)
            return c[i].id;
    }
    /* rounding left u at the very top: the last token with any mass */
    for (int i = n - 1; i >= 0; i--)
        if (c[i].logit > -INFINITY)
            return c[i].id;
    return c[0].id;
}

int rf_sampler_candidates(rf_sampler *s, const float *logits, int32_t *ids, float *vals, int n_max)
{
    if (!s || !logits)
        return 0;
    int n = smp_filter(s, smp_prepare(s, logits));
    for (int i = 0; i < n && i < n_max; i++) {
        if (ids) ids[i] = s->c[i].id;
        if (vals) vals[i] = s->c[i].logit;
    }
    return n;
}

/* ------------------------------------------------- sampling from a context */

/* The penalty window as distinct (token, count) pairs, for the device. */
static int smp_pen_list(rf_sampler *s)
{
    if (!smp_penalties_on(s))
        return 0;
    int n = 0;
    if (s->ring) {
        for (int k = 0; k < s->ring_len; k++) {
            int32_t t = s->ring[(s->ring_head + k) % s->ring_cap];
            if (s->count[t] <= 0)
                continue;   /* already listed (negated below) */
            s->pen_tok[n] = t;
            s->pen_cnt[n] = s->count[t];
            s->count[t] = -s->count[t];
            n++;
        }
        for (int k = 0; k < n; k++)
            s->count[s->pen_tok[k]] = -s->count[s->pen_tok[k]];
    } else {
        for (int32_t t = 0; t < s->n_vocab && n < s->pen_cap; t++)
            if (s->count[t] > 0) {
                s->pen_tok[n] = t;
                s->pen_cnt[n] = s->count[t];
                n++;
            }
    }
    return n;
}

int32_t rf_sample(rf_sampler *s, rf_ctx *c, int i)
{
    if (!s || !c)
        return -1;
    if (s->p.temperature <= 0.0f) {
        /* greedy: the same adjustments and first-maximum rule, run where the
         * logits are; only the id crosses back */
        rf_greedy_adj adj = {
            .n_pen = smp_pen_list(s),
            .pen_tok = s->pen_tok,
            .pen_cnt = s->pen_cnt,
            .repeat_penalty = s->p.repeat_penalty,
            .frequency_penalty = s->p.frequency_penalty,
            .presence_penalty = s->p.presence_penalty,
            .n_bias = s->p.n_logit_bias,
            .bias_tok = s->bias_tok,
            .bias_val = s->bias_val,
        };
        int32_t id;
        rf_error e = {0};
        if (ctx_greedy_device(c, i, &adj, &id, &e) == RF_OK)
            return id;
    }
    const float *lg = rf_get_logits(c, i);
    return lg ? rf_sampler_sample(s, lg) : -1;
}
