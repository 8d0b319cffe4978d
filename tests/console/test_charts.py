"""What counts as data on a chart: a pool at 0% or a step that never failed is drawn; a
run of seconds is not rounded away."""

from apps.console import charts


def test_a_pool_with_nothing_allocated_is_drawn_at_zero() -> None:
    chart = charts.pool_utilisation(pools=[("demo us-east-1", 0, 65536)])

    assert not chart.empty
    assert 'data-value="0' in charts.render(chart)


def test_steps_that_never_failed_are_drawn_at_zero_percent() -> None:
    assert not charts.step_failure_rates(outcomes=[("iam", "succeeded")]).empty


def test_no_pools_and_no_steps_are_empty() -> None:
    assert charts.pool_utilisation(pools=[]).empty
    assert charts.step_failure_rates(outcomes=[]).empty


def test_small_values_keep_two_significant_digits() -> None:
    assert charts._round(0.004237) == 0.0042
    assert charts._round(12.3456) == 12.35
    assert charts._round(None) is None
