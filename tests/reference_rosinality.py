"""rosinality/stylegan2-pytorch networks for tests: state-dict names and shapes, random
checkpoints, and a re-statement of its forward pass on those state dicts.

Written from the facts in shared/reference/checkpoint-formats.md (section b), in our own words;
no code of that project. Everything reads rosinality's own names and layouts, computing as its
layers do:

* EqualLinear: x @ (W * lr / sqrt(in)).T, + b * lr, then for the mapping layers leaky ReLU 0.2
  times sqrt(2) ("fused lrelu"); the mapping starts with a pixel norm;
* ModulatedConv2d: W [1, O, I, k, k] * 1/sqrt(I*k*k) * modulation(w) per input channel,
  demodulated with eps 1e-8; up-sampling ones run a stride-2 transposed convolution with the
  kernel as stored, then the blur kernel (stored x4) with pads 1/1;
* StyledConv: conv, + noise.weight * noise, then bias, leaky ReLU, * sqrt(2);
* ToRGB: modulated 1x1 conv without demodulation, + bias, + the previous image up-sampled
  (zero insertion, the x4 kernel, pads 2/1);
* D: ConvLayer = [blur pads 2/2, stride-2] conv with W / sqrt(in*k*k), fused lrelu; ResBlock
  out = (conv2(conv1(x)) + skip(x)) / sqrt(2); minibatch stddev over groups of min(N, 4);
  final conv, two EqualLinear.
Computes in the dtype of the tensors it is given (tests pass float64). Test-only code.
"""
import math

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def channel_table(channel_multiplier=2):
    m = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * m, 128: 128 * m, 256: 64 * m, 512: 32 * m, 1024: 16 * m}


def generator_shapes(size, style_dim, n_mlp, channel_multiplier=2, channels=None):
    """{name: shape} of rosinality's Generator(size, style_dim, n_mlp, channel_multiplier)
    state dict; `channels` replaces its fixed table (small test networks)."""
    ch = channels or channel_table(channel_multiplier)
    shapes = {}
    for i in range(1, n_mlp + 1):
        shapes[f'style.{i}.weight'], shapes[f'style.{i}.bias'] = (style_dim, style_dim), (style_dim,)
    shapes['input.input'] = (1, ch[4], 4, 4)

    def styled(prefix, cin, cout, up):
        shapes[f'{prefix}.conv.weight'] = (1, cout, cin, 3, 3)
        if up:
            shapes[f'{prefix}.conv.blur.kernel'] = (4, 4)
        shapes[f'{prefix}.conv.modulation.weight'], shapes[f'{prefix}.conv.modulation.bias'] = (cin, style_dim), (cin,)
        shapes[f'{prefix}.noise.weight'] = (1,)
        shapes[f'{prefix}.activate.bias'] = (cout,)

    def torgb(prefix, cin, up):
        shapes[f'{prefix}.bias'] = (1, 3, 1, 1)
        if up:
            shapes[f'{prefix}.upsample.kernel'] = (4, 4)
        shapes[f'{prefix}.conv.weight'] = (1, 3, cin, 1, 1)
        shapes[f'{prefix}.conv.modulation.weight'], shapes[f'{prefix}.conv.modulation.bias'] = (cin, style_dim), (cin,)
    styled('conv1', ch[4], ch[4], False)
    torgb('to_rgb1', ch[4], False)
    log_size = int(math.log2(size))
    cin = ch[4]
    for j, k in enumerate(range(3, log_size + 1)):
        cout = ch[2 ** k]
        styled(f'convs.{2 * j}', cin, cout, True)
        styled(f'convs.{2 * j + 1}', cout, cout, False)
        torgb(f'to_rgbs.{j}', cout, True)
        cin = cout
    for i in range(2 * log_size - 3):
        r = 2 ** ((i + 5) // 2)
        shapes[f'noises.noise_{i}'] = (1, 1, r, r)
    return shapes


def discriminator_shapes(size, channel_multiplier=2, channels=None):
    ch = channels or channel_table(channel_multiplier)
    shapes = {'convs.0.0.weight': (ch[size], 3, 1, 1), 'convs.0.1.bias': (ch[size],)}
    cin = ch[size]
    for i, k in enumerate(range(int(math.log2(size)), 2, -1), start=1):
        cout = ch[2 ** (k - 1)]
        shapes.update({f'convs.{i}.conv1.0.weight': (cin, cin, 3, 3), f'convs.{i}.conv1.1.bias': (cin,),
                       f'convs.{i}.conv2.0.kernel': (4, 4), f'convs.{i}.conv2.1.weight': (cout, cin, 3, 3),
                       f'convs.{i}.conv2.2.bias': (cout,), f'convs.{i}.skip.0.kernel': (4, 4),
                       f'convs.{i}.skip.1.weight': (cout, cin, 1, 1)})
        cin = cout
    shapes.update({'final_conv.0.weight': (ch[4], cin + 1, 3, 3), 'final_conv.1.bias': (ch[4],),
                   'final_linear.0.weight': (ch[4], ch[4] * 16), 'final_linear.0.bias': (ch[4],),
                   'final_linear.1.weight': (1, ch[4]), 'final_linear.1.bias': (1,)})
    return shapes


def blur_kernel(gain=1.0):
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    return torch.outer(k, k) / 64 * gain


def random_state(shapes, seed=0):
    """Random values for every tensor: kernels as rosinality builds them (x4 for up-sampling),
    modulation biases near their init of 1, small noise strengths, random biases and noise."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in shapes.items():
        if name.endswith('kernel'):
            state[name] = blur_kernel(4.0 if ('blur' in name or 'upsample' in name) else 1.0)
        elif name.endswith('modulation.bias'):
            state[name] = 1 + 0.2 * torch.randn(shape, generator=g)
        elif name.endswith('noise.weight'):
            state[name] = 0.05 + 0.2 * torch.rand(shape, generator=g)
        elif name.endswith('bias'):
            state[name] = 0.1 * torch.randn(shape, generator=g)
        else:
            state[name] = torch.randn(shape, generator=g)
    return state


# ----------------------------------------------------------------------------------------------
# Forward passes

def _upfirdn(x, kernel, up=1, down=1, pad=(0, 0)):
    """rosinality's upfirdn2d (pads the same on x and y): zero insertion, pad, true convolution."""
    N, C, H, W = x.shape
    if up > 1:
        z = x.new_zeros([N, C, H * up, W * up])
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    k = kernel.to(x.dtype).flip([0, 1])[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(x, k, groups=C)[:, :, ::down, ::down]


def _linear(x, sd, prefix, lr=1.0, act=False):
    W, b = sd[f'{prefix}.weight'], sd[f'{prefix}.bias']
    y = x @ (W * (lr / math.sqrt(W.shape[1]))).t()
    if act:
        return F.leaky_relu(y + b * lr, 0.2) * SQRT2
    return y + b * lr


def _modulated(x, w, sd, prefix, demodulate=True, up=False):
    W = sd[f'{prefix}.conv.weight'][0]                       # [O, I, k, k]
    O, I, k, _ = W.shape
    s = _linear(w, sd, f'{prefix}.conv.modulation')          # [N, I]
    out = []
    for n in range(x.shape[0]):
        wn = W * (1 / math.sqrt(I * k * k)) * s[n].reshape(1, I, 1, 1)
        if demodulate:
            wn = wn * torch.rsqrt((wn * wn).sum(dim=(1, 2, 3)) + 1e-8).reshape(O, 1, 1, 1)
        xn = x[n:n + 1]
        if up:
            y = F.conv_transpose2d(xn, wn.transpose(0, 1), stride=2)
            y = _upfirdn(y, sd[f'{prefix}.conv.blur.kernel'], pad=(1, 1))
        else:
            y = F.conv2d(xn, wn, padding=k // 2)
        out.append(y)
    return torch.cat(out)


def mapping(sd, z, n_mlp, lr_mlp=0.01):
    x = z * torch.rsqrt((z * z).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        x = _linear(x, sd, f'style.{i}', lr=lr_mlp, act=True)
    return x


def generator(sd, styles, *, size, n_mlp, truncation=1.0, truncation_latent=None, input_is_latent=False,
              randomize_noise=False, lr_mlp=0.01):
    """rosinality's Generator([styles], ...)[0] for one style batch [N, style_dim] (or W+
    [N, n_latent, style_dim] with input_is_latent); const noise unless randomize_noise."""
    assert not randomize_noise, 'the reference draws with the stored noise only'
    w = styles if input_is_latent else mapping(sd, styles, n_mlp, lr_mlp)
    if truncation < 1:
        w = truncation_latent + truncation * (w - truncation_latent)
    n_latent = 2 * int(math.log2(size)) - 2
    latent = w if w.ndim == 3 else w[:, None, :].repeat(1, n_latent, 1)

    def styled(x, i, prefix, noise_index, up=False):
        x = _modulated(x, latent[:, i], sd, prefix, up=up)
        x = x + sd[f'{prefix}.noise.weight'] * sd[f'noises.noise_{noise_index}']
        return F.leaky_relu(x + sd[f'{prefix}.activate.bias'].reshape(1, -1, 1, 1), 0.2) * SQRT2

    def torgb(x, i, prefix, skip=None):
        y = _modulated(x, latent[:, i], sd, prefix, demodulate=False) + sd[f'{prefix}.bias']
        if skip is not None:
            y = y + _upfirdn(skip, sd[f'{prefix}.upsample.kernel'], up=2, pad=(2, 1))
        return y
    x = sd['input.input'].repeat(latent.shape[0], 1, 1, 1)
    x = styled(x, 0, 'conv1', 0)
    img = torgb(x, 1, 'to_rgb1')
    for j in range(int(math.log2(size)) - 2):
        x = styled(x, 2 * j + 1, f'convs.{2 * j}', 2 * j + 1, up=True)
        x = styled(x, 2 * j + 2, f'convs.{2 * j + 1}', 2 * j + 2)
        img = torgb(x, 2 * j + 3, f'to_rgbs.{j}', img)
    return img


def _conv_layer(x, sd, prefix, weight_index, bias_key=None, down=False, act=True):
    W = sd[f'{prefix}.{weight_index}.weight']
    k, cin = W.shape[2], W.shape[1]
    if down:
        x = _upfirdn(x, sd[f'{prefix}.0.kernel'], pad=(2, 2) if k == 3 else (1, 1))
    x = F.conv2d(x, W / math.sqrt(cin * k * k), stride=2 if down else 1, padding=0 if down else k // 2)
    if act:
        return F.leaky_relu(x + sd[bias_key].reshape(1, -1, 1, 1), 0.2) * SQRT2
    return x


def discriminator(sd, img, *, size):
    x = _conv_layer(img, sd, 'convs.0', 0, 'convs.0.1.bias')
    for i in range(1, int(math.log2(size)) - 1):
        y = _conv_layer(x, sd, f'convs.{i}.conv1', 0, f'convs.{i}.conv1.1.bias')
        y = _conv_layer(y, sd, f'convs.{i}.conv2', 1, f'convs.{i}.conv2.2.bias', down=True)
        skip = _conv_layer(x, sd, f'convs.{i}.skip', 1, down=True, act=False)
        x = (y + skip) / SQRT2
    N, C, H, W = x.shape
    group = min(N, 4)
    s = x.reshape(group, -1, 1, C, H, W)
    s = torch.sqrt(((s - s.mean(dim=0)) ** 2).mean(dim=0) + 1e-8).mean(dim=(2, 3, 4)).reshape(-1, 1, 1, 1)
    x = torch.cat([x, s.repeat(group, 1, H, W)], dim=1)
    x = _conv_layer(x, sd, 'final_conv', 0, 'final_conv.1.bias')
    x = _linear(x.flatten(1), sd, 'final_linear.0', act=True)
    return _linear(x, sd, 'final_linear.1')
