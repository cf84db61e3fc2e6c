"""Training recipes of the reproduction: the keyword arguments each method's Trainer gets.

Kept in one place so the CLI, the notebooks, the apps and the tests train the same way.
"""


def software_recipe():
    """Trainer keyword arguments for the software baseline."""
    return {"epochs": 20, "lr": 1e-2, "batch_size": 128, "soft_start": 2.0}


def defect_aware_recipe():
    """Fine-tuning of the software weights on one die's maps."""
    return {"epochs": 3, "lr": 3e-3, "batch_size": 128}


def statistics_aware_recipe():
    """Fine-tuning of the software weights on freshly sampled dies."""
    return {"epochs": 10, "lr": 3e-3, "batch_size": 128, "dies_per_step": 4}
