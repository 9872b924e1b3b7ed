"""flagops.search: what the console's `/` filter and `flagops flags --search` promise.

Pure in-memory (no service needed): the index is a plain data structure over domain Flags.
Timing lives in benchmarks/bench_search.py, never here.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from rapidfuzz.distance import OSA

from flagops.model import Flag, FlagState, Stage
from flagops.search import FlagIndex, parse_query
from flagops.search.score import across_words_score, typo_budget
from flagops.search.vocab import VocabScorer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def state(env: str, enabled: bool, rollout: float = 100.0) -> FlagState:
    return FlagState(
        environment=env, enabled=enabled, rollout=rollout, default_variant="on", off_variant="off", version=1
    )


def flag(
    key: str,
    *,
    name: str = "",
    tags: tuple[str, ...] = (),
    owner: str = "",
    prod: bool = False,
    staging: bool = False,
    stage: Stage = Stage.ACTIVE,
    sunset: datetime | None = None,
) -> Flag:
    return Flag(
        key=key,
        name=name or key.replace("-", " "),
        tags=tags,
        owner=owner,
        stage=stage,
        sunset_at=sunset,
        states={"prod": state("prod", prod), "staging": state("staging", staging)},
    )


FLAGS = [
    flag("checkout-new-flow", tags=("checkout", "release"), owner="carla.rossi", prod=True),
    flag("checkout-new-payment-flow", tags=("checkout", "release"), owner="carla.rossi"),
    flag("checkout-new-flow-v2", tags=("checkout",), owner="team-checkout", staging=True),
    flag("cart-express-checkout-button", tags=("checkout", "experiment"), owner="ines.garcia", prod=True),
    flag("search-ranking-v2-ml", tags=("search", "ml"), owner="hiro.tanaka", prod=True),
    flag("kill-switch-recommendations-api", tags=("discovery", "kill-switch"), owner="mei.chen", prod=True),
    flag("recommendations-carousel", tags=("discovery",), owner="mei.chen", stage=Stage.DEPRECATED),
    flag("payments-retry-with-backoff", tags=("payments", "ops"), owner="bob.okafor", sunset=NOW - timedelta(days=3)),
    flag("payments-invoice-pdf", tags=("payments",), owner="bob.okafor", sunset=NOW + timedelta(days=30)),
    flag("enable-dark-mode-ios", tags=("mobile", "ios"), owner="zoe.martin", prod=True),
    flag("login-passkeys", tags=("identity", "security"), owner="jonas.berg"),
    flag("cache-hot-keys", tags=("platform",), owner="dmitri.ivanov", prod=True),
    flag("search-bar-redesign", tags=("search",), owner="hiro.tanaka"),
]


@pytest.fixture
def index() -> FlagIndex:
    return FlagIndex(FLAGS, environment="prod", now=NOW)


def keys(flags: list[Flag]) -> list[str]:
    return [f.key for f in flags]


# ---- text matching --------------------------------------------------------------------------------------


def test_abbreviation_finds_checkout_flags_first(index: FlagIndex) -> None:
    found = keys(index.search("chk"))
    # cache-hot-keys (initials c-h-k) is an equally good reading of "chk"; the checkout flags must be up there.
    assert {"checkout-new-flow", "checkout-new-flow-v2", "checkout-new-payment-flow"} <= set(found[:4]), found
    assert keys(index.search("chkout"))[:3] == [
        "checkout-new-flow",
        "checkout-new-flow-v2",
        "checkout-new-payment-flow",
    ]
    assert keys(index.search("recs"))[0] in ("recommendations-carousel", "kill-switch-recommendations-api")


def test_initials_find_the_flag(index: FlagIndex) -> None:
    assert keys(index.search("cnf"))[0] == "checkout-new-flow"
    assert keys(index.search("cnpf"))[0] == "checkout-new-payment-flow"
    assert keys(index.search("edmi"))[0] == "enable-dark-mode-ios"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("chekout new flow", "checkout-new-flow"),  # a letter missing
        ("checkout new paymnet flow", "checkout-new-payment-flow"),  # two letters swapped
        ("serach ranking", "search-ranking-v2-ml"),  # swapped, first word
        ("recomendations kill", "kill-switch-recommendations-api"),
        ("paskeys", "login-passkeys"),
        ("drak mode", "enable-dark-mode-ios"),  # swap within a short word
    ],
)
def test_typos_are_tolerated(index: FlagIndex, query: str, expected: str) -> None:
    assert keys(index.search(query))[0] == expected


def test_short_words_are_not_fuzzed(index: FlagIndex) -> None:
    # Three letters with one wrong would match half the vocabulary; they must match as typed.
    assert "search-ranking-v2-ml" not in keys(index.search("mk"))


def test_words_in_any_order(index: FlagIndex) -> None:
    forwards = keys(index.search("checkout flow"))
    backwards = keys(index.search("flow checkout"))
    assert set(forwards) == set(backwards)
    assert backwards[0] == "checkout-new-flow"
    assert keys(index.search("api recommendations kill"))[0] == "kill-switch-recommendations-api"
    assert keys(index.search("ml v2 search"))[0] == "search-ranking-v2-ml"


def test_all_words_must_match(index: FlagIndex) -> None:
    found = keys(index.search("checkout payment"))
    assert found == ["checkout-new-payment-flow"]


def test_the_key_typed_exactly_comes_first(index: FlagIndex) -> None:
    assert keys(index.search("checkout-new-flow"))[:2] == ["checkout-new-flow", "checkout-new-flow-v2"]
    assert keys(index.search("CHECKOUT-NEW-FLOW-V2"))[0] == "checkout-new-flow-v2"


def test_letters_across_words_like_fzf(index: FlagIndex) -> None:
    assert keys(index.search("chkpay"))[0] == "checkout-new-payment-flow"
    assert keys(index.search("darkmodeios")) == ["enable-dark-mode-ios"]


def test_across_words_alignment_prefers_word_starts() -> None:
    # "pric" then "he": pricing's own c would break the run at once; checkout's c starts a word.
    assert across_words_score("opsprichebut", "ops-pricing-checkout-button") > across_words_score(
        "opsprichebut", "ops-promotions-checkout-button"
    )
    # "dis" is disputes' start: jumping to strict's s gains nothing, so the shorter key is not outscored.
    assert across_words_score("disherbanbet", "disputes-hero-banner-beta") >= across_words_score(
        "disherbanbet", "disputes-strict-hero-banner-beta"
    )
    assert across_words_score("cp", "checkout-payments") > across_words_score("cp", "xcxp")
    assert across_words_score("bc", "xbc-b") > 0  # the word-start path runs out of key; the plain match holds
    assert across_words_score("zz", "abc") == 0.0


def test_name_tags_and_owner_are_searched(index: FlagIndex) -> None:
    # Owner words count as words; other keys that merely hold m-e-i in order (as fzf would list them) come later.
    assert set(keys(index.search("mei"))[:2]) == {"kill-switch-recommendations-api", "recommendations-carousel"}
    assert keys(index.search("security")) == ["login-passkeys"]
    named = FlagIndex([flag("x-1", name="Weekly push digest")])
    assert keys(named.search("digest weekly")) == ["x-1"]


def test_every_key_holding_the_letters_in_order_is_found() -> None:
    # fzf's notion of a match is the floor: no prefilter or narrowing may lose one of those keys.
    rng = random.Random(7)
    alphabet = "abcdefghij0123-"
    keys_ = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(3000)})
    idx = FlagIndex([flag(k) for k in keys_])
    for _ in range(60):
        word = "".join(rng.choice(alphabet[:-1]) for _ in range(rng.randint(3, 6)))
        for typed in (word[:3], word[:4], word):  # typed a letter at a time, as the narrowing expects
            found = set(keys(idx.search(typed)))
            in_order = {k for k in keys_ if is_subsequence(typed, k.casefold())}
            assert in_order <= found, (typed, sorted(in_order - found)[:5])


def test_camel_case_and_snake_case_keys_split_into_words() -> None:
    idx = FlagIndex([flag("newPaymentFlow"), flag("legacy_cart_sync")])
    assert keys(idx.search("payment flow")) == ["newPaymentFlow"]
    assert keys(idx.search("cart sync")) == ["legacy_cart_sync"]


def test_a_word_that_matches_nothing_is_ignored(index: FlagIndex) -> None:
    # A stray word (or a typo too far gone) should not blank the list in the middle of an incident.
    assert keys(index.search("checkout qqqzzz")) == keys(index.search("checkout"))
    assert index.search("qqqzzz") == []


def test_limit(index: FlagIndex) -> None:
    assert len(index.search("checkout", limit=2)) == 2
    assert index.search("checkout", limit=0) == []
    assert len(index.search("", limit=3)) == 3


# ---- empty query ----------------------------------------------------------------------------------------


def test_empty_query_returns_everything_by_key(index: FlagIndex) -> None:
    everything = keys(index.search(""))
    assert everything == sorted(f.key for f in FLAGS)
    assert keys(index.search("   ")) == everything
    assert keys(index.search("")) == everything  # stable across calls


def test_empty_index() -> None:
    idx = FlagIndex([])
    assert idx.search("") == []
    assert idx.search("checkout") == []
    assert idx.search("tag:x stale") == []


# ---- filter tokens --------------------------------------------------------------------------------------


def test_tag_filter_matches_tags_by_prefix(index: FlagIndex) -> None:
    assert set(keys(index.search("tag:kill-switch"))) == {"kill-switch-recommendations-api"}
    assert set(keys(index.search("tag:pay"))) == {"payments-retry-with-backoff", "payments-invoice-pdf"}
    assert set(keys(index.search("TAG:ML"))) == {"search-ranking-v2-ml"}


def test_owner_filter_matches_part_of_the_owner(index: FlagIndex) -> None:
    assert set(keys(index.search("owner:carla"))) == {"checkout-new-flow", "checkout-new-payment-flow"}
    assert keys(index.search("owner:team-checkout")) == ["checkout-new-flow-v2"]


def test_state_filter_uses_the_index_environment(index: FlagIndex) -> None:
    on = set(keys(index.search("state:on")))
    assert on == {f.key for f in FLAGS if f.states["prod"].enabled}
    off = set(keys(index.search("state:off")))
    assert off == {f.key for f in FLAGS} - on
    staging = FlagIndex(FLAGS, environment="staging", now=NOW)
    assert keys(staging.search("state:on")) == ["checkout-new-flow-v2"]


def test_state_filter_without_environment_means_on_anywhere() -> None:
    idx = FlagIndex(FLAGS, now=NOW)
    assert "checkout-new-flow-v2" in keys(idx.search("state:on"))  # on in staging only
    assert "login-passkeys" in keys(idx.search("state:off"))


def test_flag_without_state_in_the_environment_counts_as_off() -> None:
    idx = FlagIndex([Flag(key="no-states", name="no states")], environment="prod")
    assert keys(idx.search("state:off")) == ["no-states"]
    assert idx.search("state:on") == []


def test_stale_filter_uses_is_stale_at_now(index: FlagIndex) -> None:
    assert set(keys(index.search("stale"))) == {"recommendations-carousel", "payments-retry-with-backoff"}
    later = FlagIndex(FLAGS, environment="prod", now=NOW + timedelta(days=60))
    assert "payments-invoice-pdf" in keys(later.search("stale"))
    assert set(keys(index.search("is:stale"))) == set(keys(index.search("stale")))


def test_filters_negate_and_combine_with_text(index: FlagIndex) -> None:
    assert keys(index.search("tag:checkout state:on flow")) == ["checkout-new-flow"]
    assert set(keys(index.search("flow tag:checkout !state:on"))) == {
        "checkout-new-payment-flow",
        "checkout-new-flow-v2",
    }
    assert "recommendations-carousel" not in keys(index.search("!stale recs"))
    assert keys(index.search("owner:mei stale")) == ["recommendations-carousel"]
    assert set(keys(index.search("tag:payments !stale"))) == {"payments-invoice-pdf"}


def test_filter_still_being_typed_is_ignored(index: FlagIndex) -> None:
    assert len(index.search("tag:")) == len(FLAGS)
    assert len(index.search("state:o")) == len(FLAGS)


def test_impossible_filter_value_is_reported(index: FlagIndex) -> None:
    assert index.search("state:maybe") == []
    assert parse_query("state:maybe").problems == ("state:maybe — expected state:on or state:off",)
    assert parse_query("tag:x owner:y state:on stale chk").problems == ()


def test_a_pasted_wall_of_text_is_cut_to_size(index: FlagIndex) -> None:
    parsed = parse_query("checkout " + " ".join(f"w{i}" for i in range(500)) + " " + "x" * 10_000)
    assert len(parsed.words) == 12 and parsed.words[0] == "checkout"
    assert all(len(w) <= 64 for w in parse_query("y" * 10_000).words)
    assert "checkout-new-flow" in keys(index.search("checkout " * 300 + "new flow"))  # repeats count once


def test_parse_query_separates_words_and_filters() -> None:
    parsed = parse_query("Flow tag:Checkout !stale checkout-New")
    assert parsed.words == ("flow", "checkout", "new")
    assert [(f.kind, f.value, f.negated) for f in parsed.filters] == [("tag", "checkout", False), ("stale", "", True)]


# ---- live updates ---------------------------------------------------------------------------------------


def test_update_of_state_is_seen_by_state_filter(index: FlagIndex) -> None:
    passkeys = next(f for f in FLAGS if f.key == "login-passkeys")
    assert "login-passkeys" not in keys(index.search("state:on"))
    index.update(replace(passkeys, states={"prod": state("prod", True)}))
    assert "login-passkeys" in keys(index.search("state:on"))
    current = index.get("login-passkeys")
    assert current is not None and current.states["prod"].enabled
    assert len(index) == len(FLAGS)


def test_update_that_changes_text_reindexes(index: FlagIndex) -> None:
    index.search("incident")  # warm the caches; the update must not leave them stale
    passkeys = next(f for f in FLAGS if f.key == "login-passkeys")
    index.update(replace(passkeys, tags=("identity", "incident"), name="Passkeys at login"))
    assert keys(index.search("tag:incident")) == ["login-passkeys"]
    assert keys(index.search("incident")) == ["login-passkeys"]
    assert index.search("tag:security") == []
    assert keys(index.search("")).count("login-passkeys") == 1


def test_update_adds_a_new_flag(index: FlagIndex) -> None:
    index.search("zebra")
    index.update(flag("zebra-stripes-experiment", tags=("growth",), prod=True))
    assert keys(index.search("zebra")) == ["zebra-stripes-experiment"]
    assert keys(index.search("zse")) == ["zebra-stripes-experiment"]
    assert "zebra-stripes-experiment" in keys(index.search("state:on tag:growth"))
    assert keys(index.search("")) == sorted([*(f.key for f in FLAGS), "zebra-stripes-experiment"])


def test_remove(index: FlagIndex) -> None:
    index.search("checkout")
    index.remove("checkout-new-flow")
    assert "checkout-new-flow" not in keys(index.search("checkout"))
    assert "checkout-new-flow" not in keys(index.search(""))
    assert "checkout-new-flow" not in index
    index.remove("checkout-new-flow")  # again: nothing to do
    index.remove("never-existed")
    index.update(flag("checkout-new-flow"))  # and back
    assert keys(index.search("cnf"))[0] == "checkout-new-flow"


def test_many_removals_compact_the_index() -> None:
    flags = [flag(f"bulk-flag-{i:04d}", tags=("bulk",)) for i in range(1500)]
    idx = FlagIndex(flags)
    for f in flags[:1200]:
        idx.remove(f.key)
    assert len(idx) == 300
    assert keys(idx.search("")) == [f.key for f in flags[1200:]]
    assert len(idx.search("bulk flag")) == 300
    assert keys(idx.search("bulk-flag-1499"))[0] == "bulk-flag-1499"


def test_missing_name_or_owner_from_an_adapter_does_not_break_indexing() -> None:
    sloppy = Flag(key="sloppy-adapter-flag", name=None, owner=None)  # type: ignore[arg-type]
    idx = FlagIndex([sloppy])
    assert keys(idx.search("sloppy")) == ["sloppy-adapter-flag"]
    assert idx.search("owner:x") == []


def test_duplicate_keys_in_the_input_keep_the_last() -> None:
    idx = FlagIndex([flag("dup", tags=("old",)), flag("dup", tags=("new",))])
    assert keys(idx.search("")) == ["dup"]
    assert keys(idx.search("tag:new")) == ["dup"]


# ---- untrusted text -------------------------------------------------------------------------------------

ODD_KEYS = [
    "[bold red]pwned[/]",
    "[link=https://evil.example]x[/link]",
    "ключ-новой-оплаты",
    "emoji-🚀-launch",
    "zero\u200bwidth",
    "e\u0301clair-combining",
    "עברית-rtl",
    "tab\tand\nnewline",
    "---",
    "x" * 5000,
    "ﬁ-ligature-İstanbul",
    "",
    "UPPER-Case-KEY",
]


def test_markup_and_odd_unicode_do_not_break_indexing_or_search() -> None:
    idx = FlagIndex([flag(k, owner="[i]owner[/i]", tags=("[b]", "🚀")) for k in ODD_KEYS], environment="prod")
    assert len(idx.search("")) == len(ODD_KEYS)
    for query in [
        "[",
        "[/",
        "[bold",
        "pwned",
        "🚀",
        "ключ",
        "оплаты",
        "\x00",
        "\u200b",
        "é",
        "\\",
        "(",
        "*",
        ".*",
        "tag:[b]",
        "owner:[i]",
        "x" * 300,
        "ﬁ",
        "i̇stanbul",
        "---",
        "é",
    ]:
        assert isinstance(idx.search(query), list), query
    assert keys(idx.search("pwned")) == ["[bold red]pwned[/]"]
    assert keys(idx.search("ключ оплаты")) == ["ключ-новой-оплаты"]
    assert "emoji-🚀-launch" in keys(idx.search("launch"))
    assert keys(idx.search("tag:[b]"))  # filter values are compared as text, never parsed


# ---- the vectorised vocabulary scorer against a plain reference -----------------------------------------


def reference_word_scores(typed: str, vocab: list[str]) -> list[float]:
    """The score scale of flagops.search.score, one word at a time, written for clarity rather than speed."""
    n = len(typed)
    budget = typo_budget(n)
    out: list[float] = []
    for word in vocab:
        m = len(word)
        score = 0.0
        if not word:
            pass
        elif word.startswith(typed):
            score = 1.0 if m == n else 0.80 + 0.15 * n / m
        elif n >= 2 and typed[0] == word[0] and n < m and is_subsequence(typed, word):
            score = 0.62 + 0.15 * n / m
        elif n >= 2 and typed in word:
            score = 0.55 + 0.10 * n / m
        elif budget and (n >= 6 or word[0] == typed[0]):
            whole = OSA.distance(typed, word)
            partial = OSA.distance(typed, word[:n]) if m > n else budget + 1
            if whole <= budget:
                score = 0.50 + 0.10 * min(n / m, 1.0) - 0.12 * (whole - 1)
            elif partial <= budget:
                score = 0.45 + 0.05 * n / m - 0.12 * (partial - 1)
        out.append(score)
    return out


def is_subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)


def test_vocab_scorer_agrees_with_the_reference() -> None:
    rng = random.Random(3)
    letters = "abcdehiklmnoprstu"  # few letters: plenty of prefixes, abbreviations and typos to find
    vocab = ["", *sorted({"".join(rng.choice(letters) for _ in range(rng.randint(1, 11))) for _ in range(3000)})]
    vocab += ["checkout", "payment", "recommendations", "ключ", "v2"]
    scorer = VocabScorer(vocab)
    typed_words = ["c", "ch", "chk", "chekout", "paymnet", "recomend", "ключ", "v2", "\x00", *vocab[1:40:3]]
    typed_words += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(60)]
    for typed in typed_words:
        expected = np.array(reference_word_scores(typed, vocab), dtype=np.float32)
        assert np.allclose(scorer.scores(typed), expected, atol=1e-5), typed


def test_updates_before_a_search_are_all_seen() -> None:
    idx = FlagIndex([flag("base-flag")], environment="prod")
    idx.update(flag("new-one", prod=False))
    idx.update(flag("new-two", tags=("fresh",)))
    idx.update(flag("new-one", prod=True))  # state change of a flag added since the last search
    idx.remove("new-two")  # and removal of one
    idx.update(flag("new-three", tags=("fresh",)))
    assert keys(idx.search("")) == ["base-flag", "new-one", "new-three"]
    assert keys(idx.search("state:on")) == ["new-one"]
    assert keys(idx.search("tag:fresh")) == ["new-three"]
    assert keys(idx.search("new")) == ["new-one", "new-three"]


QUERIES = [
    "",
    "chk",
    "checkout flow",
    "cnf",
    "chekout",
    "tag:checkout",
    "state:on pay",
    "stale",
    "recs",
    "zebra",
    "owner:mei",
    "!stale flow",
    "kill api",
    "drak mode",
]


def test_live_updates_match_a_fresh_build() -> None:
    """Whatever sequence of updates and removals, the index answers like one built from scratch."""
    rng = random.Random(11)
    words = ["checkout", "flow", "pay", "zebra", "recs", "kill", "api", "dark", "mode", "cart", "v2", "new"]
    current = {f.key: f for f in FLAGS}
    idx = FlagIndex(current.values(), environment="prod", now=NOW)
    for step in range(400):
        roll = rng.random()
        if roll < 0.35 and current:
            key = rng.choice(sorted(current))
            current[key] = replace(current[key], states={"prod": state("prod", rng.random() < 0.5)})
            idx.update(current[key])
        elif roll < 0.55 and current:
            key = rng.choice(sorted(current))
            current[key] = replace(current[key], tags=(rng.choice(words),), owner=rng.choice(["mei", "bob", ""]))
            idx.update(current[key])
        elif roll < 0.75 and current:
            key = rng.choice(sorted(current))
            del current[key]
            idx.remove(key)
        else:
            key = "-".join(rng.sample(words, rng.randint(1, 4)))
            current[key] = flag(key, prod=rng.random() < 0.5, stage=rng.choice(list(Stage)))
            idx.update(current[key])
        if step % 25 == 0:
            fresh = FlagIndex(current.values(), environment="prod", now=NOW)
            for query in QUERIES:
                assert keys(idx.search(query)) == keys(fresh.search(query)), (step, query)
                assert idx.search(query) == fresh.search(query), (step, query)  # the current Flag objects


def test_flags_added_to_a_large_index_are_found_like_a_fresh_build() -> None:
    # Few additions to a big index stay outside the postings lists until they are a tenth of it:
    # that side path must score exactly like the lists.
    base = [
        flag(f"svc{i % 37}-feature{i}-{['flow', 'api', 'sync'][i % 3]}", tags=(f"team{i % 11}",)) for i in range(2000)
    ]
    idx = FlagIndex(base, environment="prod", now=NOW)
    idx.search("flow")
    added = [
        flag("zebra-checkout-flow", tags=("team3", "zebra")),
        flag("svc5-zebra-api", owner="mei"),
        flag("checkout-sync-zebra", tags=("zebra",)),
    ]
    for f in added:
        idx.update(f)
    fresh = FlagIndex(base + added, environment="prod", now=NOW)
    for query in [
        "zebra",
        "zeb",
        "zbr",
        "flow zebra",
        "svc5 api",
        "team3",
        "mei",
        "checkout",
        "chk",
        "sync",
        "tag:zebra",
        "feature12",
    ]:
        assert keys(idx.search(query)) == keys(fresh.search(query)), query
