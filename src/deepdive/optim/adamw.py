"""AdamW: Adam with weight decay decoupled from the gradient."""
from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam whose weight decay shrinks the weights directly.

    .. code-block:: text

        input: gamma (lr), beta1, beta2 (betas), theta_0 (params), f (objective),
               lambda (weight_decay), amsgrad, maximize, epsilon
        initialize: m_0 <- 0, v_0 <- 0, v_0^max <- 0
        for t = 1 to ...:
            if maximize:           g_t <- -grad f_t(theta_{t-1})
            else:                  g_t <- grad f_t(theta_{t-1})
            theta_t <- theta_{t-1} - gamma lambda theta_{t-1}
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            m_hat_t <- m_t / (1 - beta1^t)
            if amsgrad:
                v_t^max <- max(v_{t-1}^max, v_t)
                v_hat_t <- v_t^max / (1 - beta2^t)
            else:
                v_hat_t <- v_t / (1 - beta2^t)
            theta_t <- theta_t - gamma m_hat_t / (sqrt(v_hat_t) + epsilon)
        return theta_t

    Unlike Adam's coupled L2 term (which Adam's per-parameter scaling distorts), the decay
    here is the same fraction gamma lambda for every weight.

    Args: as ``Adam``, with weight_decay defaulting to 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
