import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.die_stream import DieStream
from mtjexplore.network import coefficients_from_maps


@pytest.fixture(scope="module")
def stats():
    return mx.DefectStatistics(mx.paper_config(), {"short": 40, "open": 5, "stuck_p": 5, "stuck_ap": 5})


def _n_altered(coeffs):
    """Synapses whose coefficients are far from a healthy pair (|a| > 0.5 or |b - 1| > 0.4)."""
    return sum(((a.abs() > 0.5) | ((b - 1).abs() > 0.4)).sum((1, 2)) for a, b in zip(coeffs.a, coeffs.b))


def test_stream_matches_exact_sampling_statistics(stats):
    stream = DieStream(stats, 4, torch.Generator().manual_seed(0), refresh=25)
    streamed = [stream() for _ in range(100)]
    exact = coefficients_from_maps(*stats.sample_maps(400, torch.Generator().manual_seed(1))[:2], stats.config)
    n_stream = torch.cat([_n_altered(c) for c in streamed]).double()
    n_exact = _n_altered(exact).double()
    assert float(n_stream.mean()) == pytest.approx(float(n_exact.mean()), rel=0.08)
    assert float(n_stream.std()) == pytest.approx(float(n_exact.std()), rel=0.2)
    b_stream = torch.cat([c.b[0] for c in streamed])
    healthy = (b_stream - 1).abs() < 0.4
    assert float(b_stream[healthy].std()) == pytest.approx(float(exact.b[0][(exact.b[0] - 1).abs() < 0.4].std()), rel=0.05)


def test_stream_defect_coefficients_are_exact(stats):
    """A streamed die's coefficients equal those computed in full from its maps."""
    stream = DieStream(stats, 3, torch.Generator().manual_seed(3), refresh=1)
    coeffs = stream()
    pick, die, sites, kinds = stream.last_chunk
    assert len(sites) > 20 and len(pick) == 3
    n_cells = np.prod(stats.config.floorplan.shape)
    g_p = torch.zeros(3, n_cells, dtype=torch.float32)
    g_ap = torch.zeros(3, n_cells, dtype=torch.float32)
    g_p[:, stream.pair_cells] = stream.pool_gp[pick]
    g_ap[:, stream.pair_cells] = stream.pool_gap[pick]
    healthy_p, healthy_ap = g_p.clone(), g_ap.clone()
    for d, site, kind in zip(die.tolist(), sites.tolist(), kinds.tolist()):
        name = mx.DEFECT_KINDS[kind]
        p, ap = healthy_p[d, site], healthy_ap[d, site]
        value = {"short": (stats.g_short_s,) * 2, "open": (stats.g_open_s,) * 2,
                 "stuck_p": (p, p), "stuck_ap": (ap, ap)}[name]
        g_p[d, site], g_ap[d, site] = value
    shape = (3,) + stats.config.floorplan.shape
    full = coefficients_from_maps(g_p.reshape(shape), g_ap.reshape(shape), stats.config)
    for x, y in zip(coeffs.a + coeffs.b, full.a + full.b):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)


def test_stream_is_deterministic(stats):
    a = [DieStream(stats, 3, torch.Generator().manual_seed(7), refresh=5)() for _ in range(2)]
    for x, y in zip(a[0].a + a[0].b, a[1].a + a[1].b):
        assert torch.equal(x, y)
