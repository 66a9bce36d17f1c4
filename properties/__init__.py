"""Hypothesis strategies, property predicates, generators and mutants for the Sobolev claims.

Nothing is imported here: import the module you need (``strategies`` and ``profiles``
need Hypothesis, the ``test`` extra). The claims are in ``docs/claims.md``; a walk-through
is ``docs/tutorial.md``.

``properties.predicates`` — checks that raise ``AssertionError`` naming the quantities, and
return their measurement otherwise:
  - ``check_wasserstein_contraction``: C1, ``W̄_p(Tη₁, Tη₂) <= γκ W̄_p(η₁, η₂)``.
  - ``check_msmmd_contraction``: C2, ``MSMMD̄(Tη₁, Tη₂) <= (γκ)^(α/2) MSMMD̄(η₁, η₂)``, certified.
  - ``check_policy_gradient_bound``: C3, ``‖∇J − ∇̂J‖ <= L_ψ (1−γ)⁻¹ sup W₁``.
  - ``check_fixed_point``: C5, two starts merge at rate ``(γκ)^N``.
  - ``check_linear_fixed_point``: C5, the linear-Gaussian fixed point equals its closed form.
  - ``check_chain_rule``: the operator's Sobolev return equals finite differences of ``G``.
  - ``check_conditionally_positive_definite``, ``check_shift_invariance``,
    ``check_scale_sensitivity``: what C2 needs of a kernel.
  - ``estimate_scale_order``: the empirical order α of a kernel (minimum and quantiles).
  - ``check_mmd_metric_axioms``: MMD is a (pseudo)metric on samples.
  - ``check_mmd_nonexpansion``: the false claim that full-vector MMD does not expand (C4c).
  - ``backup_modulus``, ``spec_modulus``: ``γ max ‖L‖`` and C1's bound from the Jacobians.
  - ``Contraction``: the measurement (before, after, bound, ratio).

``properties.strategies`` — Hypothesis strategies (keyword-only, validated):
  - ``tabular_cases(modulus="below"|"at"|"above", ...)``: tabular Sobolev MDPs with γκ set.
  - ``particle_laws(dimension=...)``, ``law_pairs(size=..., dimension=...)``: weighted laws.
  - ``linear_gaussian_systems(stable=...)``: linear-Gaussian Sobolev systems.
  - ``chain_rule_cases(...)``: ``(system, state, action, noises, dones, gamma)``.
  - ``kernels(families=...)``: built-in kernels with drawn parameters.
  - ``neural_cases(...)``: small critic networks, policy and transition.

``properties.generators`` — deterministic builders (a NumPy ``Generator`` in, objects out):
  - ``random_tabular_parts``, ``build_tabular_mdp``, ``random_tabular_mdp``: tabular MDPs.
  - ``parts_with_kappa``, ``rescale_parts``: set κ exactly by scaling ``F_s, F_a``.
  - ``random_particle_law``: a weighted Gaussian particle law.
  - ``linear_backup``: the linear-Gaussian operator on a finite evaluation set.

``properties.mutants`` — deliberately broken affine maps (negative control C4d):
  ``missing_transpose``, ``policy_jac_ignored``, ``done_mask_dropped``, ``gamma_dropped``;
  ``MUTANTS`` maps each name to a factory of ``gamma``.

``properties.systems`` — ``TanhSystem`` (a nonlinear stochastic test system with analytic
Jacobians), ``random_tanh_system``, ``pathwise_return``, ``operator_sobolev_return``.

``properties.neural`` — ``NeuralCase``, ``random_neural_case``, ``neural_backup``: the
neural operator on an evaluation set (JAX).

``properties.profiles`` — Hypothesis profiles ``default``, ``ci``, ``thorough``;
``load_profile``. ``properties.plugin`` — the pytest plugin (``--sobolev-kernel``,
``--sobolev-profile``); ``properties.battery`` — the kernel battery it runs.
"""
