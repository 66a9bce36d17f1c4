"""Sobolev core: kernels, metrics and Sobolev Bellman operators as pure array functions.

The flat namespace below is the public contract; modules starting with ``_`` are private.
``sobolev_core.torch`` holds PyTorch versions of the losses and metrics.
"""

from sobolev_core._arrays import check_gamma
from sobolev_core._kernels import (
    KERNEL_NAMES,
    Kernel,
    as_kernel,
    energy,
    gaussian,
    inverse_multiquadric,
    kernel_from_spec,
    laplacian,
    multiquadric,
)
from sobolev_core._linear import LinearGaussianSobolev, LinearSobolevLaw, SobolevAffineMap
from sobolev_core._losses import (
    GRAD_NORMALIZATIONS,
    gradient_weights,
    huber,
    huber_sobolev_loss,
    mmd_loss,
    msmmd_loss,
    sobolev_critic_loss,
    sobolev_td_loss,
    truncate_top,
)
from sobolev_core._metrics import (
    MaxSlicedMMD,
    gram,
    max_sliced_direction,
    max_sliced_mmd,
    mmd,
    mmd2,
    sliced_mmd2,
    wasserstein,
)
from sobolev_core._neural import SobolevTarget, neural_affine_map, sobolev_target
from sobolev_core._operator import (
    ParticleLaw,
    TabularSobolevMDP,
    Transition,
    apply_backup,
    apply_operator,
    compress_law,
    contraction_modulus,
    iterate_operator,
    sobolev_affine_map,
    sup_distance,
)

__all__ = [
    "GRAD_NORMALIZATIONS",
    "KERNEL_NAMES",
    "Kernel",
    "LinearGaussianSobolev",
    "LinearSobolevLaw",
    "MaxSlicedMMD",
    "ParticleLaw",
    "SobolevAffineMap",
    "SobolevTarget",
    "TabularSobolevMDP",
    "Transition",
    "apply_backup",
    "apply_operator",
    "as_kernel",
    "check_gamma",
    "compress_law",
    "contraction_modulus",
    "energy",
    "gaussian",
    "gradient_weights",
    "gram",
    "huber",
    "huber_sobolev_loss",
    "inverse_multiquadric",
    "iterate_operator",
    "kernel_from_spec",
    "laplacian",
    "max_sliced_direction",
    "max_sliced_mmd",
    "mmd",
    "mmd2",
    "mmd_loss",
    "msmmd_loss",
    "multiquadric",
    "neural_affine_map",
    "sliced_mmd2",
    "sobolev_affine_map",
    "sobolev_critic_loss",
    "sobolev_target",
    "sobolev_td_loss",
    "sup_distance",
    "truncate_top",
    "wasserstein",
]
