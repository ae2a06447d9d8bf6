"""StyleGAN2-ADA generator and discriminator.

Module tree, constructor arguments, parameter and buffer names are those of the official
stylegan2-ada-pytorch networks, so an official state dict loads with strict=True and a
network pickle's init kwargs rebuild the same module. The code is our own; facts about the
official design are in shared/reference/official-stylegan2-ada.md.

Conventions: images NCHW float in [-1, 1]; ws [N, num_ws, w_dim]; blocks whose `use_fp16`
is set run in float16 on CUDA only (CPU computes in float32), unless the call's `precision`
argument says otherwise ('fp32', or 'bf16' on any device: see _block_precision).
"""
import numpy as np
import torch

from core.ops import (ACTIVATIONS, assert_shape, bias_act, conv2d_resample, downsample2d,
                      fused_modconv_is_cheaper, modulated_conv2d, normalize_2nd_moment, setup_filter, upsample2d)
from core.noise_spec import NOISE_MODES


PRECISIONS = ('fp32', 'fp16', 'bf16')


def _use_fp16(module, x, force_fp32):
    return module.use_fp16 and not force_fp32 and x is not None and x.device.type == 'cuda'


# 'bf16' leaves the blocks below this resolution in float32. Their rounding errors are the ones
# that grow: in the 85.7-kimg bundled model (64 seeds against fp32) bf16 in every block differs by 0.34 grey
# levels on average, at most 10, and 1.2% of the values by more than 2; with blocks 4-16 in fp32,
# 0.17, at most 3, and 0.0014%. They are also where bf16 gains least (their weights, not their
# maps, dominate the work): 1024 config-f spends under 5% of its time there.
BF16_MIN_RESOLUTION = 32


def _block_precision(module, x, force_fp32, precision, min_resolution=None):
    """(dtype, precision) a block computes in for this call. precision is a call argument, never a
    module setting, so two calls on one network may differ:
    - None or 'fp16': the official mixed precision: float16 in the `use_fp16` blocks on CUDA,
      float32 elsewhere and everywhere on CPU;
    - 'fp32': float32 throughout (force_fp32=True turns any precision into this one);
    - 'bf16': bfloat16 in the blocks from min_resolution (default BF16_MIN_RESOLUTION) up, on any
      device. It has float32's range, so unlike float16 it needs no pre-normalisation; on CPUs with
      AVX512-BF16 or AMX its convolutions run at about twice the fp32 speed. Its layers take the
      folded route (see SynthesisLayer.forward), the float32 blocks below the threshold too."""
    assert precision is None or precision in PRECISIONS, f'precision must be one of {PRECISIONS} or None'
    if force_fp32 or precision == 'fp32':
        return torch.float32, 'fp32'
    if precision == 'bf16':
        threshold = BF16_MIN_RESOLUTION if min_resolution is None else min_resolution
        return (torch.bfloat16 if module.resolution >= threshold else torch.float32), precision
    return (torch.float16 if _use_fp16(module, x, False) else torch.float32), precision


def _choose_fused_modconv(layer, x, up=1):
    """The official rule on CUDA (fused unless training or an fp16 batch); on CPU whichever
    route moves less memory (see ops.fused_modconv_is_cheaper); never fused in training."""
    if layer.training:
        return False
    if x.device.type == 'cuda':
        return x.dtype == torch.float32 or x.shape[0] == 1
    if layer.weight.shape[2] == 1:  # 1x1 ToRGB: a batched matmul either way
        return True
    return x.shape[0] == 1 and fused_modconv_is_cheaper(x, layer.weight, up)


class FullyConnectedLayer(torch.nn.Module):
    """Dense layer with equalised learning rate: weights scaled by lr_multiplier / sqrt(in)."""

    def __init__(self, in_features, out_features, bias=True, activation='linear', lr_multiplier=1, bias_init=0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], np.float32(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        assert_shape(x, [None, self.in_features], 'FullyConnectedLayer input')
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == 'linear' and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self):
        return f'in={self.in_features}, out={self.out_features}, activation={self.activation}'


class Conv2dLayer(torch.nn.Module):
    """Plain convolution with equalised learning rate and optional 2x up / downsampling."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=True, activation='linear', up=1, down=1,
                 resample_filter=(1, 3, 3, 1), conv_clamp=None, channels_last=False, trainable=True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = ACTIVATIONS[activation][1]
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size]).to(memory_format=memory_format)
        bias = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = torch.nn.Parameter(weight)
            self.bias = torch.nn.Parameter(bias) if bias is not None else None
        else:  # frozen layers (Freeze-D) keep their tensors as buffers, as the official code does
            self.register_buffer('weight', weight)
            if bias is not None:
                self.register_buffer('bias', bias)
            else:
                self.bias = None

    def forward(self, x, gain=1, precision=None):
        """precision 'bf16': the bias rides in the convolution and the activation gain in its
        weights (a bf16 elementwise pass costs as much as an fp32 one, forward and backward; see
        ops._modconv_folded); any other precision keeps the official order of operations."""
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        if precision == 'bf16':
            g = self.act_gain * gain
            w = (self.weight * (self.weight_gain * g)).to(x.dtype)
            b = (self.bias * g).to(x.dtype) if self.bias is not None else None
            x = conv2d_resample(x, w, self.resample_filter, up=self.up, down=self.down, padding=self.padding,
                                flip_weight=(self.up == 1), bias=b)
            return bias_act(x, None, act=self.activation, gain=1, clamp=clamp, inplace=True)
        w = self.weight * self.weight_gain
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w.to(x.dtype), self.resample_filter, up=self.up, down=self.down,
                            padding=self.padding, flip_weight=(self.up == 1))
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp, inplace=True)

    def extra_repr(self):
        return (f'in={self.in_channels}, out={self.out_channels}, activation={self.activation}, '
                f'up={self.up}, down={self.down}')


class MappingNetwork(torch.nn.Module):
    """z (+ embedded class) -> w, broadcast to num_ws rows, with truncation toward w_avg."""

    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, embed_features=None, layer_features=None,
                 activation='lrelu', lr_multiplier=0.01, w_avg_beta=0.995):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f'fc{idx}', FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                                          lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer('w_avg', torch.zeros([w_dim]))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, skip_w_avg_update=False):
        x = None
        if self.z_dim > 0:
            assert_shape(z, [None, self.z_dim], 'mapping z')
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            assert_shape(c, [None, self.c_dim], 'mapping c')
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f'fc{idx}')(x)

        if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            assert self.w_avg_beta is not None, 'truncation needs w_avg'
            if self.num_ws is None or truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x

    def extra_repr(self):
        return f'z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}, layers={self.num_layers}'


class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 convolution (optionally 2x upsampling), noise, bias, leaky ReLU."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, kernel_size=3, up=1, use_noise=True,
                 activation='lrelu', resample_filter=(1, 3, 3, 1), conv_clamp=None, channels_last=False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATIONS[activation][1]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = torch.nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size]).to(memory_format=memory_format))
        if use_noise:
            self.register_buffer('noise_const', torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x, w, noise_mode='random', fused_modconv=None, gain=1, noise_scale=1.0, noise_generator=None,
                noise_input=None, precision=None, style_offset=None):
        """noise_scale multiplies this layer's learned noise strength for this call only;
        noise_generator (a torch.Generator) makes noise_mode='random' reproducible;
        noise_input ([res, res] or [N, 1, res, res]) replaces noise_const / the random draw for this
        call only (not with noise_mode='none'; gradients flow into it: the projector optimises it);
        fused_modconv None picks the faster route for the device; precision 'bf16' (x in bfloat16,
        or float32 in a block below BF16_MIN_RESOLUTION) takes the folded route (ops._modconv_folded:
        the bias and activation gain ride in the convolution, prepared weights are kept between
        calls); any other precision keeps the official order of operations, and so its results."""
        assert noise_mode in NOISE_MODES, f'noise_mode must be one of {NOISE_MODES}'
        in_res = self.resolution // self.up
        assert_shape(x, [None, self.in_channels, in_res, in_res], f'SynthesisLayer@{self.resolution} input')
        styles = self.affine(w)
        if style_offset is not None:  # StyleSpace: s = affine(w) + offset ([in_channels] or [N, in_channels])
            assert style_offset.shape[-1] == self.in_channels, f'style offset {list(style_offset.shape)}'
            styles = styles + style_offset.to(styles.device, styles.dtype)

        noise = None
        if self.use_noise and noise_mode == 'random':
            # Drawn even at noise_scale 0: muting one layer must not shift the random stream,
            # and so the noise, of the layers after it.
            noise = self.random_noise(x.shape[0], x.device, noise_generator)
            noise = noise * self.noise_strength if noise_scale != 0 else None
        elif self.use_noise and noise_mode == 'const' and noise_scale != 0:
            noise = self.noise_const * self.noise_strength
        if noise_input is not None and self.use_noise and noise_mode != 'none':
            assert noise_input.shape[-2:] == (self.resolution, self.resolution), \
                f'SynthesisLayer@{self.resolution} noise_input has shape {list(noise_input.shape)}'
            noise = noise_input.to(x.device) * self.noise_strength if noise_scale != 0 else None
        if noise is not None and noise_scale != 1:
            noise = noise * noise_scale

        if fused_modconv is None:
            fused_modconv = _choose_fused_modconv(self, x, self.up)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        if precision == 'bf16':
            x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                                 resample_filter=self.resample_filter, flip_weight=(self.up == 1),
                                 fused_modconv=fused_modconv, bias=self.bias, gain=self.act_gain * gain)
            return bias_act(x, None, act=self.activation, gain=1, clamp=clamp, inplace=True)
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1),
                             fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp,
                        inplace=True)

    def random_noise(self, batch, device, noise_generator=None):
        """The draw forward() makes with noise_mode='random': [batch, 1, res, res] from
        noise_generator (a torch.Generator), or from torch's global generator when None."""
        shape = [batch, 1, self.resolution, self.resolution]
        if noise_generator is None:
            return torch.randn(shape, device=device)
        return torch.randn(shape, generator=noise_generator, device=noise_generator.device).to(device)

    def extra_repr(self):
        return (f'in={self.in_channels}, out={self.out_channels}, resolution={self.resolution}, up={self.up}, '
                f'use_noise={self.use_noise}')


class ToRGBLayer(torch.nn.Module):
    """Modulated 1x1 convolution to image channels, no demodulation, no noise."""

    def __init__(self, in_channels, out_channels, w_dim, kernel_size=1, conv_clamp=None, channels_last=False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = torch.nn.Parameter(
            torch.randn([out_channels, in_channels, kernel_size, kernel_size]).to(memory_format=memory_format))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x, w, fused_modconv=None, precision=None, style_offset=None):
        """precision 'bf16': the bias rides in the matrix product (see SynthesisLayer.forward);
        style_offset: added to s = affine(w) before the weight gain (StyleSpace), or None."""
        styles = self.affine(w)
        if style_offset is not None:
            assert style_offset.shape[-1] == self.in_channels, f'style offset {list(style_offset.shape)}'
            styles = styles + style_offset.to(styles.device, styles.dtype)
        styles = styles * self.weight_gain
        if fused_modconv is None:
            fused_modconv = _choose_fused_modconv(self, x)
        if precision == 'bf16':
            x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv, bias=self.bias)
            return bias_act(x, None, clamp=self.conv_clamp, inplace=True)
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp, inplace=True)

    def extra_repr(self):
        return f'in={self.in_channels}, out={self.out_channels}'


class SynthesisBlock(torch.nn.Module):
    """One resolution of the synthesis network: [const | conv0 (up)] conv1, and ToRGB."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, is_last, architecture='skip',
                 resample_filter=(1, 3, 3, 1), conv_clamp=None, use_fp16=False, fp16_channels_last=False,
                 **layer_kwargs):
        assert architecture in ('orig', 'skip', 'resnet'), f'unknown synthesis architecture {architecture!r}'
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0

        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp,
                                        channels_last=self.channels_last, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim=w_dim, resolution=resolution,
                                    conv_clamp=conv_clamp, channels_last=self.channels_last, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == 'skip':
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp,
                                    channels_last=self.channels_last)
            self.num_torgb += 1
        if in_channels != 0 and architecture == 'resnet':
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter, channels_last=self.channels_last)

    def _memory_format(self, ref, dtype):
        # On CPU, channels_last makes the high-resolution convolutions and the depthwise
        # resampling filter 2-3x faster (measured with mkldnn); at 32x32 and below it does not.
        if ref.device.type == 'cpu' and self.resolution >= 64:
            return torch.channels_last
        if self.channels_last and dtype == torch.float16:
            return torch.channels_last
        return torch.contiguous_format

    def conv_layers(self):
        """Names of this block's noise-carrying layers, in ws order."""
        return [name for name in ('conv0', 'conv1') if hasattr(self, name)]

    def forward(self, x, img, ws, force_fp32=False, fused_modconv=None, noise_mode='random',
                noise_scales=None, noise_generator=None, noise_inputs=None, precision=None, style_offsets=None):
        """ws: [N, num_conv + num_torgb, w_dim]; noise_scales: {'conv0': s, 'conv1': s} or None;
        noise_inputs: {'conv0': map, ...} or None, explicit noise maps (see SynthesisLayer);
        style_offsets: {'conv0' | 'conv1' | 'torgb': offset added to that layer's styles} or None;
        precision: None | 'fp32' | 'fp16' | 'bf16' for this call (see _block_precision). x comes
        out in the block's compute dtype, img always in float32."""
        assert_shape(ws, [None, self.num_conv + self.num_torgb, self.w_dim], f'b{self.resolution} ws')
        w_iter = iter(ws.unbind(dim=1))
        ref = ws if x is None else x
        dtype, precision = _block_precision(self, ref, force_fp32, precision)
        memory_format = self._memory_format(ref, dtype)
        noise_scales = noise_scales or {}
        noise_inputs = noise_inputs or {}
        offsets = style_offsets or {}
        layer_kwargs = dict(noise_mode=noise_mode, fused_modconv=fused_modconv, noise_generator=noise_generator,
                            precision=precision)

        if self.in_channels == 0:
            x = self.const.to(dtype=dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = x.contiguous(memory_format=memory_format)
            x = self.conv1(x, next(w_iter), noise_scale=noise_scales.get('conv1', 1.0),
                           noise_input=noise_inputs.get('conv1'), style_offset=offsets.get('conv1'), **layer_kwargs)
        else:
            assert_shape(x, [None, self.in_channels, self.resolution // 2, self.resolution // 2],
                         f'b{self.resolution} input')
            x = x.to(dtype=dtype, memory_format=memory_format)
            if self.architecture == 'resnet':
                y = self.skip(x, gain=np.sqrt(0.5), precision=precision)
                x = self.conv0(x, next(w_iter), noise_scale=noise_scales.get('conv0', 1.0),
                               noise_input=noise_inputs.get('conv0'), style_offset=offsets.get('conv0'), **layer_kwargs)
                x = self.conv1(x, next(w_iter), gain=np.sqrt(0.5), noise_scale=noise_scales.get('conv1', 1.0),
                               noise_input=noise_inputs.get('conv1'), style_offset=offsets.get('conv1'), **layer_kwargs)
                x = y.add_(x)
            else:
                x = self.conv0(x, next(w_iter), noise_scale=noise_scales.get('conv0', 1.0),
                               noise_input=noise_inputs.get('conv0'), style_offset=offsets.get('conv0'), **layer_kwargs)
                x = self.conv1(x, next(w_iter), noise_scale=noise_scales.get('conv1', 1.0),
                               noise_input=noise_inputs.get('conv1'), style_offset=offsets.get('conv1'), **layer_kwargs)

        return x, self._image(x, img, next(w_iter, None), fused_modconv, precision, offsets.get('torgb'))

    def _image(self, x, img, w, fused_modconv, precision=None, style_offset=None):
        """The block's image: the previous block's img upsampled, plus ToRGB(x) where this block has one
        (style_offset: ToRGB's, see ToRGBLayer.forward)."""
        # bf16 blocks keep their float32 image channels_last on CPU, the layout ToRGB's matmul
        # writes: no transposing copy per block, and the image upsampling runs 2.4x as fast
        # (1024 config-f: 8 vs 20 ms at 512 -> 1024); the last block hands it back NCHW.
        keep_layout = precision == 'bf16' and x.device.type == 'cpu'
        if img is not None:
            assert_shape(img, [None, self.img_channels, self.resolution // 2, self.resolution // 2],
                         f'b{self.resolution} img')
            if keep_layout:
                img = img.contiguous(memory_format=torch.channels_last)
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == 'skip':
            y = self.torgb(x, w, fused_modconv=fused_modconv, precision=precision, style_offset=style_offset)
            if keep_layout:
                y = y.to(dtype=torch.float32, memory_format=torch.channels_last)
            else:
                y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = img.add_(y) if img is not None else y
        if keep_layout and self.is_last:
            img = img.contiguous()
        return img

    # A caller that keeps layer outputs (the renderer's cache) runs a block in two parts:
    # conv0_output, then forward_from('conv1', ...); or resumes a kept block x with
    # forward_from('torgb', ...). Either way the result is forward()'s, bit for bit.

    def conv0_output(self, x, ws, force_fp32=False, fused_modconv=None, noise_mode='random', noise_scales=None,
                     noise_generator=None, noise_inputs=None, precision=None, style_offsets=None):
        """forward()'s first layer alone, for 'orig' and 'skip' blocks with a conv0: the previous
        block's x -> conv0's output (what forward_from('conv1', ...) takes). Arguments as forward()."""
        assert self.in_channels != 0 and self.architecture != 'resnet', \
            f'b{self.resolution} ({self.architecture}) cannot be run in parts: call forward()'
        assert_shape(ws, [None, self.num_conv + self.num_torgb, self.w_dim], f'b{self.resolution} ws')
        assert_shape(x, [None, self.in_channels, self.resolution // 2, self.resolution // 2],
                     f'b{self.resolution} input')
        dtype, precision = _block_precision(self, x, force_fp32, precision)
        x = x.to(dtype=dtype, memory_format=self._memory_format(x, dtype))
        return self.conv0(x, ws.unbind(dim=1)[0], noise_mode=noise_mode, fused_modconv=fused_modconv,
                          noise_generator=noise_generator, noise_scale=(noise_scales or {}).get('conv0', 1.0),
                          noise_input=(noise_inputs or {}).get('conv0'), precision=precision,
                          style_offset=(style_offsets or {}).get('conv0'))

    def forward_from(self, layer, x, img, ws, force_fp32=False, fused_modconv=None, noise_mode='random',
                     noise_scales=None, noise_generator=None, noise_inputs=None, precision=None, style_offsets=None):
        """forward() resumed at `layer`, given that layer's input x:
        - 'conv1': x is conv0's output (see conv0_output; 'orig' and 'skip' blocks with a conv0);
        - 'torgb': x is the block's own x output (forward()'s first result); only the image is made.
        img is the previous block's image, ws and the other arguments as for forward(); returns
        (x, img) as forward() does. noise_generator is the one forward() would be given: the random
        draw of a skipped conv0 is made again and dropped, so conv1 draws what it draws in forward().
        A kept x made at another precision is cast to this call's (a no-op when they match)."""
        assert layer in ('conv1', 'torgb'), f'forward_from: unknown layer {layer!r}'
        assert_shape(ws, [None, self.num_conv + self.num_torgb, self.w_dim], f'b{self.resolution} ws')
        assert_shape(x, [None, self.out_channels, self.resolution, self.resolution],
                     f'b{self.resolution} {layer} input')
        dtype, precision = _block_precision(self, x, force_fp32, precision)
        x = x.to(dtype)
        ws = ws.unbind(dim=1)
        if layer == 'conv1':
            assert self.in_channels != 0 and self.architecture != 'resnet', \
                f'b{self.resolution} ({self.architecture}) cannot be resumed at conv1: call forward()'
            if self.conv0.use_noise and noise_mode == 'random':  # conv0 drew first in forward()
                self.conv0.random_noise(x.shape[0], x.device, noise_generator)
            x = self.conv1(x, ws[1], noise_mode=noise_mode, fused_modconv=fused_modconv,
                           noise_generator=noise_generator, noise_scale=(noise_scales or {}).get('conv1', 1.0),
                           noise_input=(noise_inputs or {}).get('conv1'), precision=precision,
                           style_offset=(style_offsets or {}).get('conv1'))
        return x, self._image(x, img, ws[self.num_conv] if self.num_torgb else None, fused_modconv, precision,
                              (style_offsets or {}).get('torgb'))

    def extra_repr(self):
        return (f'resolution={self.resolution}, in={self.in_channels}, out={self.out_channels}, '
                f'architecture={self.architecture}, use_fp16={self.use_fp16}')


class SynthesisNetwork(torch.nn.Module):
    """ws -> image, one SynthesisBlock per resolution 4, 8, ..., img_resolution."""

    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512,
                 num_fp16_res=0, **block_kwargs):
        assert img_resolution >= 4 and img_resolution & (img_resolution - 1) == 0, 'resolution must be a power of 2'
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.block_resolutions = [2 ** i for i in range(2, self.img_resolution_log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim=w_dim, resolution=res,
                                   img_channels=img_channels, is_last=is_last, use_fp16=res >= fp16_resolution,
                                   **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f'b{res}', block)

    def blocks(self):
        return [getattr(self, f'b{res}') for res in self.block_resolutions]

    def block_ws_ranges(self):
        """[(start, count)] of the ws rows each block reads: a ToRGB shares its w with the
        next block's conv0, so consecutive ranges overlap by one."""
        ranges, idx = [], 0
        for block in self.blocks():
            ranges.append((idx, block.num_conv + block.num_torgb))
            idx += block.num_conv
        return ranges

    def forward(self, ws, noise_mode='random', force_fp32=False, fused_modconv=None, noise_scales=None,
                noise_generator=None, noise_inputs=None, precision=None, style_offsets=None):
        """noise_scales: {'b64.conv0': 0.5, ...} multiplies single layers' noise for this call;
        style_offsets: {'b64.conv0': offset [C] or [N, C], ...} added to single layers' styles
        s = affine(w) for this call (StyleSpace edits; 'b64.torgb' too);
        noise_inputs: {'b64.conv0': map [64, 64], ...} replaces single layers' noise maps for this
        call (the buffers are never written: the projector passes its own optimised copies);
        precision: None | 'fp32' | 'fp16' | 'bf16' for this call (see _block_precision); the
        image is float32 whatever the blocks computed in."""
        assert_shape(ws, [None, self.num_ws, self.w_dim], 'synthesis ws')
        ws = ws.to(torch.float32)
        noise_scales = noise_scales or {}
        noise_inputs = noise_inputs or {}
        x = img = None
        for block, (start, count) in zip(self.blocks(), self.block_ws_ranges()):
            prefix = f'b{block.resolution}.'
            scales = {k[len(prefix):]: v for k, v in noise_scales.items() if k.startswith(prefix)}
            inputs = {k[len(prefix):]: v for k, v in noise_inputs.items() if k.startswith(prefix)}
            offsets = {k[len(prefix):]: v for k, v in (style_offsets or {}).items() if k.startswith(prefix)}
            x, img = block(x, img, ws.narrow(1, start, count), force_fp32=force_fp32, fused_modconv=fused_modconv,
                           noise_mode=noise_mode, noise_scales=scales, noise_generator=noise_generator,
                           noise_inputs=inputs, precision=precision, style_offsets=offsets)
        return img

    def extra_repr(self):
        return f'w_dim={self.w_dim}, resolution={self.img_resolution}, num_ws={self.num_ws}'


class Generator(torch.nn.Module):
    """G(z, c) = synthesis(mapping(z, c)); the official constructor arguments."""

    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs=None, synthesis_kwargs=None):
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                img_channels=img_channels, mapping_kwargs=mapping_kwargs,
                                synthesis_kwargs=synthesis_kwargs)
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, **synthesis_kwargs):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, **synthesis_kwargs)


class DiscriminatorBlock(torch.nn.Module):
    """One resolution of D: [fromrgb] conv0, conv1 (down), optional resnet skip."""

    def __init__(self, in_channels, tmp_channels, out_channels, resolution, img_channels, first_layer_idx,
                 architecture='resnet', activation='lrelu', resample_filter=(1, 3, 3, 1), conv_clamp=None,
                 use_fp16=False, fp16_channels_last=False, freeze_layers=0):
        assert in_channels in (0, tmp_channels)
        assert architecture in ('orig', 'skip', 'resnet'), f'unknown discriminator architecture {architecture!r}'
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.first_layer_idx = first_layer_idx
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer('resample_filter', setup_filter(resample_filter))
        self.num_layers = 0

        def trainable():
            layer_idx = first_layer_idx + self.num_layers
            self.num_layers += 1
            return layer_idx >= freeze_layers

        common = dict(activation=activation, conv_clamp=conv_clamp, channels_last=self.channels_last)
        if in_channels == 0 or architecture == 'skip':
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, trainable=trainable(), **common)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, trainable=trainable(), **common)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, down=2, trainable=trainable(),
                                 resample_filter=resample_filter, **common)
        if architecture == 'resnet':
            self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                                    trainable=trainable(), resample_filter=resample_filter,
                                    channels_last=self.channels_last)

    def forward(self, x, img, force_fp32=False, precision=None):
        """precision: None | 'fp32' | 'fp16' | 'bf16' for this call, as SynthesisBlock.forward, but
        'bf16' reaches every block: the threshold guards the generated image, and D's blocks feed
        one logit (training the `small` preset with D in bf16 throughout: 1.59x fp32 per step
        instead of 1.54x; R1 penalty of the bundled model's D on 16 reals: batch mean within 0.5%
        of fp32's, its gradient 3.3% apart)."""
        ref = img if x is None else x
        dtype, precision = _block_precision(self, ref, force_fp32, precision, min_resolution=0)
        memory_format = torch.channels_last if self.channels_last and dtype == torch.float16 else torch.contiguous_format
        if x is not None:
            assert_shape(x, [None, self.in_channels, self.resolution, self.resolution], f'D b{self.resolution} input')
            x = x.to(dtype=dtype, memory_format=memory_format)
        if self.in_channels == 0 or self.architecture == 'skip':
            assert_shape(img, [None, self.img_channels, self.resolution, self.resolution], f'D b{self.resolution} img')
            img = img.to(dtype=dtype, memory_format=memory_format)
            y = self.fromrgb(img, precision=precision)
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == 'skip' else None
        if self.architecture == 'resnet':
            y = self.skip(x, gain=np.sqrt(0.5), precision=precision)
            x = self.conv1(self.conv0(x, precision=precision), gain=np.sqrt(0.5), precision=precision)
            x = y.add_(x)
        else:
            x = self.conv1(self.conv0(x, precision=precision), precision=precision)
        return x, img

    def extra_repr(self):
        return f'resolution={self.resolution}, architecture={self.architecture}, use_fp16={self.use_fp16}'


class MinibatchStdLayer(torch.nn.Module):
    """Appends the standard deviation across groups of samples as extra feature maps."""

    def __init__(self, group_size, num_channels=1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x):
        N, C, H, W = x.shape
        G = min(self.group_size, N) if self.group_size is not None else N
        assert N % G == 0, f'minibatch std: batch {N} is not a multiple of the group size {G}'
        Fn = self.num_channels
        y = x.reshape(G, -1, Fn, C // Fn, H, W)      # group g takes samples g*n .. g*n + n - 1
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()   # [n, F, c, H, W]
        y = y.mean(dim=[2, 3, 4]).reshape(-1, Fn, 1, 1).repeat(G, 1, H, W)
        return torch.cat([x, y], dim=1)

    def extra_repr(self):
        return f'group_size={self.group_size}, num_channels={self.num_channels}'


class DiscriminatorEpilogue(torch.nn.Module):
    """The 4x4 end of D: minibatch std, conv, fc, out (projection onto cmap if conditional)."""

    def __init__(self, in_channels, cmap_dim, resolution, img_channels, architecture='resnet', mbstd_group_size=4,
                 mbstd_num_channels=1, activation='lrelu', conv_clamp=None):
        assert architecture in ('orig', 'skip', 'resnet')
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        if architecture == 'skip':
            self.fromrgb = Conv2dLayer(img_channels, in_channels, kernel_size=1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3, activation=activation,
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x, img, cmap, force_fp32=False):
        assert_shape(x, [None, self.in_channels, self.resolution, self.resolution], 'D epilogue input')
        x = x.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if self.architecture == 'skip':
            assert_shape(img, [None, self.img_channels, self.resolution, self.resolution], 'D epilogue img')
            x = x + self.fromrgb(img.to(dtype=torch.float32, memory_format=torch.contiguous_format))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            assert_shape(cmap, [None, self.cmap_dim], 'D cmap')
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


class Discriminator(torch.nn.Module):
    """D(img, c) -> logits [N, 1]; the official constructor arguments."""

    def __init__(self, c_dim, img_resolution, img_channels, architecture='resnet', channel_base=32768,
                 channel_max=512, num_fp16_res=0, conv_clamp=None, cmap_dim=None, block_kwargs=None,
                 mapping_kwargs=None, epilogue_kwargs=None):
        super().__init__()
        block_kwargs = dict(block_kwargs or {})
        mapping_kwargs = dict(mapping_kwargs or {})
        epilogue_kwargs = dict(epilogue_kwargs or {})
        self.init_kwargs = dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                                architecture=architecture, channel_base=channel_base, channel_max=channel_max,
                                num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, cmap_dim=cmap_dim,
                                block_kwargs=block_kwargs, mapping_kwargs=mapping_kwargs,
                                epilogue_kwargs=epilogue_kwargs)
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.block_resolutions = [2 ** i for i in range(self.img_resolution_log2, 2, -1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        if cmap_dim is None:
            cmap_dim = channels[4]
        if c_dim == 0:
            cmap_dim = 0
        common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(channels[res] if res < img_resolution else 0, channels[res], channels[res // 2],
                                       resolution=res, first_layer_idx=layer_idx, use_fp16=res >= fp16_resolution,
                                       **block_kwargs, **common)
            setattr(self, f'b{res}', block)
            layer_idx += block.num_layers
        if c_dim > 0:
            self.mapping = MappingNetwork(z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None,
                                          **mapping_kwargs)
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim=cmap_dim, resolution=4, **epilogue_kwargs, **common)

    def features(self, img, force_fp32=False, precision=None):
        """Per-block activations before the epilogue: {resolution: tensor}, for perceptual losses.
        precision: None | 'fp32' | 'fp16' | 'bf16' for the blocks (the epilogue is float32)."""
        assert_shape(img, [None, self.img_channels, self.img_resolution, self.img_resolution], 'D input')
        feats, x = {}, None
        for res in self.block_resolutions:
            x, img = getattr(self, f'b{res}')(x, img, force_fp32=force_fp32, precision=precision)
            feats[res // 2] = x
        return feats, x, img

    def forward(self, img, c, force_fp32=False, precision=None):
        _, x, img = self.features(img, force_fp32=force_fp32, precision=precision)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap)
