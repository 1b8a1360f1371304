/* sampler_internal.h — sampler entry points for engine code and tests that
 * have a vocabulary size but no model (the public rf_sampler_create takes the
 * size from a loaded model). */
#ifndef RF_SAMPLER_INTERNAL_H
#define RF_SAMPLER_INTERNAL_H

#include "rocmforge.h"

/* rf_sampler_create with an explicit vocabulary size. */
rf_status rf_sampler_create_n(int n_vocab, const rf_sampler_params *p,
                              rf_sampler **out, rf_error *err);

/* Candidate set after every filter of the chain except the final draw, for
 * tests: writes up to n_max token ids (in the chain's final order) and their
 * processed logits (after penalties, bias, filters and temperature);
 * returns the candidate count. Does not advance the random state. */
int rf_sampler_candidates(rf_sampler *s, const float *logits,
                          int32_t *ids, float *vals, int n_max);

/* Next uniform double in [0, 1) of the sampler's generator (tests). */
double rf_sampler_uniform(rf_sampler *s);

#endif
