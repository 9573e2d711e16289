"""Adversarial training with the spatio-temporal pose discriminator (:mod:`lift3d.models.discriminator`).

The discriminator learns to tell mocap sequences (real) from the lifter's (fake); the lifter gets a term that
rewards fooling it. Both are the standard non-saturating GAN losses (Goodfellow et al. 2014, §3) with logits:
``discriminator = BCE(D(real), 1) + BCE(D(fake), 0)``, ``generator = BCE(D(fake), 1)``, one value per frame,
averaged. Losses are named unweighted terms; the lifter's weight is ``loss.adversarial`` in its config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn.functional import binary_cross_entropy_with_logits as bce

from lift3d.models.discriminator import DiscriminatorConfig, PoseDiscriminator


@dataclass
class DiscriminatorTraining:
    """The discriminator of an adversarial run: its architecture, Adam learning rate, and gradient clip."""

    model: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    lr: float = 1e-4
    grad_clip: float = 1.0


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Real frames towards 1, fake towards 0 (any shapes)."""
    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits: Tensor) -> Tensor:
    """The lifter's term: its frames should be judged real (non-saturating form)."""
    return bce(fake_logits, torch.ones_like(fake_logits))


def accuracy(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Fraction of frames classified right (real > 0, fake <= 0), real and fake counted equally."""
    return 0.5 * ((real_logits > 0).float().mean() + (fake_logits <= 0).float().mean())


class Adversary:
    """A discriminator with its optimizer, stepped alongside a lifter.

    Call :meth:`step` once per lifter step with the batch's mocap targets and the lifter's (detached inside)
    predictions, then add :meth:`generator_term` of the predictions to the lifter's loss.
    """

    def __init__(self, cfg: DiscriminatorTraining, device="cpu"):
        self.cfg = cfg
        self.model = PoseDiscriminator(cfg.model).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    def step(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        """One discriminator update on ``(B, T, J, 3)`` real and fake sequences; returns its loss and accuracy."""
        self.model.train()
        r, f = self.model(real), self.model(fake.detach())
        loss = discriminator_loss(r, f)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        return {"disc": float(loss.detach()), "disc_acc": float(accuracy(r.detach(), f.detach()))}

    def generator_term(self, fake: Tensor) -> Tensor:
        """:func:`generator_loss` of the lifter's ``(B, T, J, 3)`` predictions, differentiable in them only
        (the discriminator's own gradients are discarded at its next :meth:`step`)."""
        self.model.eval()  # no dropout when judging the lifter
        return generator_loss(self.model(fake))

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
