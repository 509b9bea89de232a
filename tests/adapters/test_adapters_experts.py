import torch

from lamer.adapters import ExpertBank


def _bank(experts=8, rank=4, seed=0):
    torch.manual_seed(seed)
    bank = ExpertBank(48, 80, experts, rank, scaling=2.0)
    torch.nn.init.normal_(bank.lora_B)
    return bank


def test_fresh_bank_adds_nothing():
    bank = ExpertBank(16, 24, 4, 2)
    x = torch.randn(5, 7, 16)
    assert torch.count_nonzero(bank(x, torch.rand(5, 7, 4))) == 0


def test_batched_equals_expert_by_expert_loop():
    bank = _bank()
    x, w = torch.randn(3, 11, 48), torch.softmax(torch.randn(3, 11, 8), -1)
    torch.testing.assert_close(bank(x, w), bank.forward_loop(x, w), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bank(x), bank.forward_loop(x), rtol=1e-5, atol=1e-5)


def test_each_expert_is_its_own_low_rank_map():
    bank = _bank(experts=3, rank=2)
    x = torch.randn(6, 48)
    for e in range(3):
        one_hot = torch.zeros(6, 3)
        one_hot[:, e] = 1
        rows = slice(2 * e, 2 * e + 2)
        expected = x @ bank.lora_A[rows].T @ bank.lora_B[:, rows].T * 2.0
        torch.testing.assert_close(bank(x, one_hot), expected, rtol=1e-5, atol=1e-5)


def test_delta_weight_matches_forward_for_fixed_weights():
    bank = _bank()
    x, w = torch.randn(9, 48), torch.softmax(torch.randn(8), -1)
    torch.testing.assert_close(x @ bank.delta_weight(w).T, bank(x, w.expand(9, 8)), rtol=1e-4, atol=1e-5)
