// The study model of benchmarks/stan.py, as brms writes it: binomial cells,
// nationality intercepts non-centred (u = sigma * z, z ~ std_normal()).
// Same model and priors as returnmodels' fit of
// `assisted ~ n_procedures + cooperation + (1 | nationality)`; X is returnmodels' own
// design matrix (Intercept, n_procedures centred at its case-weighted mean, cooperation
// dummies), so both engines fit the same cells.
data {
  int<lower=1> N;                          // binomial cells
  int<lower=1> P;                          // columns of X, Intercept included
  int<lower=1> J;                          // nationalities
  matrix[N, P] X;
  array[N] int<lower=0> trials;
  array[N] int<lower=0> successes;
  array[N] int<lower=1, upper=J> group;    // each cell's nationality, 1-based
}
parameters {
  vector[P] beta;
  real<lower=0> sigma;                     // nationality SD
  vector[J] z;                             // standardised nationality effects
}
transformed parameters {
  vector[J] u = sigma * z;                 // nationality effects
}
model {
  beta ~ normal(0, 2.5);
  sigma ~ normal(0, 1);                    // half-normal through <lower=0>
  z ~ std_normal();
  successes ~ binomial_logit(trials, X * beta + u[group]);
}
