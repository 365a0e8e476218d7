// The study model with persons, as brms writes it: one Bernoulli row a case,
// nationality and person intercepts both non-centred (u = sigma * z, z ~ std_normal()).
// Same priors as returnmodels' fit of
// `assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)`:
// N(0, 2.5) on every column of X (returnmodels' own design: Intercept, n_procedures
// centred at its case-weighted mean, cooperation dummies against `medium`) and
// HalfNormal(1) on both SDs. The person effects are sampled here (one z a person);
// returnmodels integrates them out by quadrature instead.
data {
  int<lower=1> N;                          // cases
  int<lower=1> P;                          // columns of X, Intercept included
  int<lower=1> J;                          // nationalities
  int<lower=1> K;                          // persons
  matrix[N, P] X;
  array[N] int<lower=0, upper=1> y;        // assisted return
  array[N] int<lower=1, upper=J> nationality;
  array[N] int<lower=1, upper=K> person;
}
parameters {
  vector[P] beta;
  real<lower=0> sigma_nationality;
  real<lower=0> sigma_person;
  vector[J] z_nationality;
  vector[K] z_person;
}
transformed parameters {
  vector[J] u = sigma_nationality * z_nationality;   // nationality effects
}
model {
  beta ~ normal(0, 2.5);
  sigma_nationality ~ normal(0, 1);        // half-normal through <lower=0>
  sigma_person ~ normal(0, 1);
  z_nationality ~ std_normal();
  z_person ~ std_normal();
  y ~ bernoulli_logit(X * beta + u[nationality] + sigma_person * z_person[person]);
}
