"""Bounds on a StyleGAN network's architecture: what a network file may claim before anything
is built from it (core.network_parts), and so also what `train` may be asked to build (a model
past them could not be opened again). No torch, so the command line's parser can use them.
"""
import math
import numbers

# Far past every published StyleGAN (1024 px, 8 mapping layers, 512 channels, channel_base 65536)
# and far below what would exhaust memory or time while a module tree is built.
MAX_RESOLUTION = 8192
MAX_LAYERS = 64          # any `num_layers` (mapping networks; StyleGAN3's synthesis has 14)
MAX_COUNT = 1 << 20      # any other whole number: channels, z / w dims, classes, channel_base
MAX_LIST = 1024          # any list (a resample filter has 4 taps)
# Arguments whose type the networks trust: counts (None: the default), numbers (None: none).
COUNTS = ('z_dim', 'c_dim', 'w_dim', 'img_channels', 'channel_base', 'channel_max', 'num_fp16_res', 'cmap_dim',
          'embed_features', 'layer_features', 'mbstd_group_size', 'mbstd_num_channels', 'num_layers',
          'num_critical', 'margin_size', 'filter_size', 'conv_kernel', 'lrelu_upsampling')
NUMBERS = ('conv_clamp', 'lr_multiplier', 'w_avg_beta', 'magnitude_ema_beta', 'output_scale')
# StyleGAN3's filter design: positive numbers; and its sizes, whose products make filters and
# feature maps (the official configs use 6 taps, kernels of 1 or 3, 2x upsampling, margin 10).
POSITIVE = ('first_cutoff', 'first_stopband', 'last_stopband_rel')
SMALL_COUNTS = {'filter_size': 64, 'conv_kernel': 15, 'lrelu_upsampling': 16, 'margin_size': 1024}


def check_claims(kwargs, where='kwargs'):
    """Raise ValueError naming the first constructor argument past the bounds above: a
    resolution that is not a power of two from 4 to MAX_RESOLUTION, a layer count past
    MAX_LAYERS, a count past MAX_COUNT, a list past MAX_LIST; kwargs are JSON-ready."""
    if not isinstance(kwargs, dict):
        raise ValueError(f'{where} are a {type(kwargs).__name__}, not a dict')
    for name, value in kwargs.items():
        at = f'{where}.{name}' if where != 'kwargs' else str(name)
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if name in COUNTS and value is not None and not (whole and value >= 0):
            raise ValueError(f'{at} {value!r} is not a whole number of 0 or more')
        if name in NUMBERS and value is not None and not (
                isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)):
            raise ValueError(f'{at} {value!r} is not a finite number')
        if name == 'img_resolution' and not (whole and 4 <= value <= MAX_RESOLUTION and not value & (value - 1)):
            raise ValueError(f'img_resolution {value!r} is not a power of two from 4 to {MAX_RESOLUTION}')
        if name in POSITIVE and not (isinstance(value, numbers.Real) and not isinstance(value, bool)
                                     and math.isfinite(value) and value > 0):
            raise ValueError(f'{at} {value!r} is not a finite positive number')
        if name in SMALL_COUNTS and value is not None and value > SMALL_COUNTS[name]:
            raise ValueError(f'{at} {value!r} is more than {SMALL_COUNTS[name]}')
        if name == 'num_layers' and not (whole and 0 <= value <= MAX_LAYERS):
            raise ValueError(f'{at} {value!r} is not a layer count from 0 to {MAX_LAYERS}')
        if whole and abs(value) > MAX_COUNT:
            raise ValueError(f'{at} {value:,} is more than the {MAX_COUNT:,} any StyleGAN2 network has')
        if isinstance(value, dict):
            check_claims(value, at)
        if isinstance(value, list) and len(value) > MAX_LIST:
            raise ValueError(f'{at} lists {len(value):,} values')
