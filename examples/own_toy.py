"""Plug toygrad into your own toy: 8 tied-weight autoencoders with 20 sparse features squeezed into 5
dimensions, trained as one model on the instance axis (one feature probability per instance)."""
import numpy as np
import toygrad as tg

rng = np.random.default_rng(0)
I, n, m = 8, 20, 5
W = tg.parameter("xavier_normal", (I, m, n), rng)                # I models, each W: (m, n)
b = tg.parameter("zeros", (I, n), rng)
opt = tg.AdamW([W, b], lr=1e-3, weight_decay=0.0)
p = 20.0 ** -np.linspace(0, 1, I)                                # feature probability, dense -> sparse
x = np.empty((I, 1024, n), dtype=np.float32)
for step in range(2000):
    tg.kernels.sample_sparse(rng, x, p)                          # fresh batch each step
    loss = tg.mse(tg.relu(tg.tied(x, W, b)), x, weight=0.9 ** np.arange(n))  # one loss per model: (I,)
    opt.zero_grad()
    loss.sum().backward()
    opt.step()
norms = np.linalg.norm(W.data, axis=1)                           # ||W_i|| per feature
print("loss per model:", np.round(loss.data, 4))
print("features represented (norm > 0.5), dense -> sparse:", (norms > 0.5).sum(axis=1))
