
__all__ = ["software_recipe", "defect_aware_recipe", "statistics_aware_recipe"]
"""Training recipes of the reproduction: the keyword arguments each method's Trainer gets.

Kept in one place so the CLI, the notebooks, the apps and the tests train the same way. How they
were chosen (measured on the 36-die reference ensemble, full MNIST; see docs/results/):

* software: comparators relaxed to ``sigmoid(z / 2)`` and annealed to hard ones over the first
  70 % of 20 epochs (Adam 1e-2, cosine decay): 8.1-8.35 % test error with the MNIST margin
  cropped (8.35 % in docs/results before issue 12, ties going to the first class). Since issue 12
  ties count as a random tie-break would (``mtjexplore.network.tie_error``) and the study runs on
  one torch thread: 8.25 % with per-neuron thresholds (the same recipe and seed on two threads:
  8.68 %); with the default half-integer thresholds 7.86 % (seeds 0-2: 7.51-8.13 %).
* Every measurement below was made with the earlier 500 Ohm read path (a short = 11.7 unit
  weights) and first-index ties; at the 1.8 kOhm default the gaps are much smaller
  (docs/results/short_strength).
* defect-aware: 3 epochs of fine-tuning the software weights on the die's maps at 3e-3 brings
  the four worst dies (22-28 % error unaware) to within 0.4-0.9 % of the baseline.
* statistics-aware: fine-tuning the software weights for 20 epochs at 3e-3 with 2 fresh dies
  per step (64 images each). Measured on the 36 reference dies (mean error minus the software
  baseline), first under load with exact per-step sampling and earlier software weights: 4 dies
  x 10 epochs +2.9 %, 8 x 20 +2.7 %, 32 x 20 +2.6 %, 64 dies with batch 256 +2.9 %; the worst
  half of the dies' losses +2.9 to 3.0 %; training from scratch +3.6 %; doubled defect density
  +3.2 %; a fixed smaller output scale to force larger current margins +4.8 % and +7.1 % (the
  ideal error rises first). Then, with the final software weights and seeds 0, 1, 2: 1 die per
  step +2.3 %; 2 dies +2.0, +2.1, +2.3 %; 4 dies +2.4, +2.1, +2.3 %; 4 dies with batch 256
  +2.2 %; a hidden-activity penalty of 0.3 +3.1 %; with 2 dies, lr 2e-3 for 40 epochs +2.5 %,
  lr 5e-3 +2.3 %, a wider comparator surrogate (6) +2.2 %. The spread between seeds (~0.2 %) is as large
  as the differences; 2 dies per step keeps a statistics-aware epoch within ~1.2x a software one.
  Later, judged also on 400 dies drawn afresh from the fitted statistics (training images, so a
  choice made on them does not look at the 36 test dies), three seeds each unless noted: this
  recipe +2.31, +2.12, +2.25 % on the 36 dies (fresh dies 11.36-11.50 % error); 60 epochs +2.06,
  +2.37, +2.15 % (11.11-11.48 %); 8 dies x 60 epochs +1.97, +2.22 % (11.31, 11.38 %); from
  scratch with the software schedule, 20 epochs +2.63, +2.94 %, 60 epochs +2.00, +2.68, +2.24 %;
  a relaxed comparator start (soft_start 1) +2.32, +2.30 %. An exact expectation over the place of
  one output-layer defect added to the loss (instead of sampling those defects; the output layer
  does most of the damage) gave +2.20 % once, +2.17 % with soft_start 2, +2.49 % with that term
  doubled, and no change on 400 fresh dies of the generating statistics (10.77 % for it and for
  this recipe), so it is not kept. No variant moves the fresh-die error by more than the seeds do.
* Issue 11 removed the Trainer parameters behind some of these variants, since no recipe uses
  them: ``activity_penalty``, ``surrogate_width`` (fixed at 3), ``soft_fraction`` (0.7),
  ``output_scale`` (learned), ``die_loss`` (the mean), ``n_val_dies`` (8), ``exact_sampling``
  (pass ``sampler=stats.sample`` for exact per-step sampling).
"""


def software_recipe():
    """Trainer keyword arguments for the software baseline."""
    return {"epochs": 20, "lr": 1e-2, "batch_size": 128, "soft_start": 2.0}


def defect_aware_recipe():
    """Fine-tuning of the software weights on one die's maps."""
    return {"epochs": 3, "lr": 3e-3, "batch_size": 128}


def statistics_aware_recipe():
    """Fine-tuning of the software weights on freshly sampled dies."""
    return {"epochs": 20, "lr": 3e-3, "batch_size": 128, "dies_per_step": 2}
