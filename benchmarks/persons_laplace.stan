// The study model with persons, the person intercepts integrated out by Stan's embedded
// Laplace approximation (Stan 2.37+; the signatures are those of stanc3 2.39):
// `assisted ~ n_procedures + cooperation + (1 | nationality) + (1 | person_id)`.
// NUTS samples the coefficients, both SDs and the nationality effects (non-centred,
// u = sigma * z); for each of its proposals the person effects b ~ N(0, sigma_p^2 I) are
// integrated out by a Laplace approximation around the mode of p(b | y, rest), found by
// Newton's method (the approximation glmer makes with nAGQ = 1). Same columns and priors
// as persons_study.stan: N(0, 2.5) on every column of returnmodels' design (Intercept,
// n_procedures centred at its case-weighted mean, cooperation dummies against `medium`)
// and HalfNormal(1) on both SDs.
//
// `variant` picks one of three ways of writing the same marginal likelihood:
// 1. laplace_marginal with a user likelihood over one latent a person, covariance
//    sigma_p^2 I (the model as written above);
// 2. the same, non-centred: one standard-normal latent a person (covariance I, a data
//    matrix) scaled by sigma_p inside the likelihood. The Laplace approximation is
//    invariant under the linear map b = sigma_p z, so the value is that of 1; the
//    covariance holds no parameter, so no K x K matrix of autodiff variables is built;
// 3. the built-in laplace_marginal_bernoulli_logit_lpmf. Its `mean` is one offset a
//    latent (y and n_samples are a latent's successes and trials), and n_procedures
//    varies between a person's cases, so it cannot take one latent a person: it takes
//    one latent a case with covariance sigma_p^2 [person_i == person_j] (N x N, singular
//    where a person has several cases), which is the same model and, by the matrix
//    determinant lemma, the same approximation;
// 4. laplace_marginal once a person, over that person's cases, with a 1 x 1 covariance
//    sigma_p^2. The persons are independent given the rest (diagonal covariance, each
//    case's likelihood on one latent), so the mode and the Hessian of 1-3 split person by
//    person and the product of these one-dimensional approximations is the value of 1-3;
//    but it costs linear time in the persons where 1-3 factor a dense K x K (or N x N)
//    matrix at every Newton step.
functions {
  // log p(y | b): the cases' Bernoulli likelihood given one latent a person
  real person_loglik(vector b, data array[] int y, vector eta, data array[] int person) {
    return bernoulli_logit_lpmf(y | eta + b[person]);
  }

  // log p(y | z) with b = sigma * z
  real person_loglik_scaled(vector z, data array[] int y, vector eta,
                            data array[] int person, real sigma) {
    return bernoulli_logit_lpmf(y | eta + sigma * z[person]);
  }

  matrix person_covariance(real sigma, int K) {
    return diag_matrix(rep_vector(square(sigma), K));
  }

  matrix unit_covariance(int K) {
    return identity_matrix(K);
  }

  // log p(y_k | b_k): one person's cases
  real one_person_loglik(vector b, data array[] int y, vector eta) {
    return bernoulli_logit_lpmf(y | eta + b[1]);
  }

  matrix one_person_covariance(real sigma) {
    return rep_matrix(square(sigma), 1, 1);
  }

  // one latent a case: cases of one person share their person's intercept
  matrix case_covariance(real sigma, data array[] int person) {
    int N = size(person);
    matrix[N, N] S = rep_matrix(0, N, N);
    real s2 = square(sigma);
    for (j in 1:N) {
      for (i in 1:N) {
        if (person[i] == person[j]) {
          S[i, j] = s2;
        }
      }
    }
    return S;
  }
}
data {
  int<lower=1> N;                          // cases
  int<lower=1> P;                          // columns of X, Intercept included
  int<lower=1> J;                          // nationalities
  int<lower=1> K;                          // persons
  matrix[N, P] X;
  array[N] int<lower=0, upper=1> y;        // assisted return
  array[N] int<lower=1, upper=J> nationality;
  array[N] int<lower=1, upper=K> person;
  int<lower=1, upper=4> variant;
}
transformed data {
  array[N] int ones = rep_array(1, N);
  // the cases ordered by person, and each person's first and last case in that order
  array[N] int by_person = sort_indices_asc(person);
  array[N] int y_by_person = y[by_person];
  array[K] int first = rep_array(N + 1, K);
  array[K] int last = rep_array(0, K);
  for (i in 1:N) {
    int k = person[by_person[i]];
    first[k] = min(first[k], i);
    last[k] = max(last[k], i);
  }
}
parameters {
  vector[P] beta;
  real<lower=0> sigma_nationality;
  real<lower=0> sigma_person;
  vector[J] z_nationality;
}
transformed parameters {
  vector[J] u = sigma_nationality * z_nationality;   // nationality effects
}
model {
  vector[N] eta = X * beta + u[nationality];
  beta ~ normal(0, 2.5);
  sigma_nationality ~ normal(0, 1);        // half-normal through <lower=0>
  sigma_person ~ normal(0, 1);
  z_nationality ~ std_normal();
  if (variant == 1) {
    target += laplace_marginal(person_loglik, (y, eta, person), 1,
                               person_covariance, (sigma_person, K));
  } else if (variant == 2) {
    target += laplace_marginal(person_loglik_scaled, (y, eta, person, sigma_person), 1,
                               unit_covariance, (K,));
  } else if (variant == 3) {
    target += laplace_marginal_bernoulli_logit_lpmf(y | ones, eta, 1,
                                                    case_covariance, (sigma_person, person));
  } else {
    vector[N] eta_by_person = eta[by_person];
    for (k in 1:K) {
      target += laplace_marginal(one_person_loglik,
                                 (y_by_person[first[k]:last[k]],
                                  eta_by_person[first[k]:last[k]]), 1,
                                 one_person_covariance, (sigma_person,));
    }
  }
}
