#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "seedbank/protocol/reconcile.h"
#include "support/require_ok.h"

using namespace seedbank::protocol;
using namespace seedbank::protocol::reconcile;

namespace {

Item random_item(std::mt19937_64& rng, std::uint64_t time) {
  Item it;
  it.time = time;
  for (auto& b : it.id) b = static_cast<std::uint8_t>(rng());
  return it;
}

struct Exchange {
  std::set<Id> a_learns, b_learns;  // ids each side ends up receiving
  std::size_t messages = 0, bytes = 0;
};

// Runs a whole reconciliation between two sets, as two peers would.
Exchange run(const std::vector<Item>& a, const std::vector<Item>& b, Options options = {}) {
  Reconciler ra(a, options), rb(b, options);
  Exchange ex;
  Outcome oa, ob;
  Bytes msg = ra.initiate();
  bool to_b = true;
  while (!msg.empty()) {
    BOOST_REQUIRE(ex.messages < 64);
    ex.bytes += msg.size();
    ++ex.messages;
    auto reply = to_b ? rb.reply(msg, &ob) : ra.reply(msg, &oa);
    SB_REQUIRE_OK(reply);
    msg = std::move(reply).value();
    to_b = !to_b;
  }
  // A requests what it needs and B pushes what it has; and the other way.
  for (const auto& id : oa.need) ex.a_learns.insert(id);
  for (const auto& id : ob.have) ex.a_learns.insert(id);
  for (const auto& id : ob.need) ex.b_learns.insert(id);
  for (const auto& id : oa.have) ex.b_learns.insert(id);
  return ex;
}

std::set<Id> ids_only_in(const std::vector<Item>& x, const std::vector<Item>& y) {
  std::set<Id> ys;
  for (const auto& it : y) ys.insert(it.id);
  std::set<Id> out;
  for (const auto& it : x)
    if (!ys.count(it.id)) out.insert(it.id);
  return out;
}

// A shared base of `n` items plus `only_a` and `only_b` extra ones.
std::pair<std::vector<Item>, std::vector<Item>> sets(std::size_t n, std::size_t only_a, std::size_t only_b,
                                                     unsigned seed, std::uint64_t time_step = 1000) {
  std::mt19937_64 rng(seed);
  std::vector<Item> a, b;
  std::uint64_t t = 1'700'000'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    auto it = random_item(rng, t += rng() % time_step);
    a.push_back(it);
    b.push_back(it);
  }
  for (std::size_t i = 0; i < only_a; ++i)
    a.push_back(random_item(rng, 1'700'000'000'000 + rng() % (n * time_step + 1)));
  for (std::size_t i = 0; i < only_b; ++i)
    b.push_back(random_item(rng, 1'700'000'000'000 + rng() % (n * time_step + 1)));
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return {a, b};
}

void check_converges(const std::vector<Item>& a, const std::vector<Item>& b, const Exchange& ex) {
  BOOST_TEST((ex.a_learns == ids_only_in(b, a)));
  BOOST_TEST((ex.b_learns == ids_only_in(a, b)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reconcile_test)

BOOST_AUTO_TEST_CASE(equal_sets_agree_in_one_round_trip_and_a_few_bytes) {
  auto [a, b] = sets(100'000, 0, 0, 1);
  auto ex = run(a, b);
  BOOST_TEST(ex.messages == 1u);  // the first fingerprint matches: the reply is empty
  BOOST_TEST(ex.bytes < 1024u);
  BOOST_TEST(ex.a_learns.empty());
  BOOST_TEST(ex.b_learns.empty());
}

BOOST_AUTO_TEST_CASE(each_side_learns_exactly_what_it_lacks) {
  for (auto [n, da, db] : {std::tuple{0, 0, 5}, {0, 7, 0}, {10, 3, 3}, {1000, 1, 0}, {5000, 40, 60}, {20000, 500, 1}}) {
    auto [a, b] = sets(static_cast<std::size_t>(n), static_cast<std::size_t>(da), static_cast<std::size_t>(db), 7);
    auto ex = run(a, b);
    BOOST_TEST_CONTEXT("n=" << n << " only_a=" << da << " only_b=" << db) check_converges(a, b, ex);
  }
}

BOOST_AUTO_TEST_CASE(cost_grows_with_the_difference_not_the_set) {
  auto [a, b] = sets(100'000, 50, 50, 3);
  auto ex = run(a, b);
  check_converges(a, b, ex);
  BOOST_TEST(ex.bytes <= 64u * 1024u, ex.bytes << " bytes");
  BOOST_TEST(ex.messages <= 12u, ex.messages << " messages");
}

BOOST_AUTO_TEST_CASE(items_sharing_a_timestamp_split_by_id_prefix) {
  // Everything stamped in the same millisecond: bounds must use id prefixes.
  auto [a, b] = sets(3000, 20, 20, 11, /*time_step=*/1);
  for (auto* v : {&a, &b})
    for (auto& it : *v) it.time = 42;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  check_converges(a, b, run(a, b));
}

BOOST_AUTO_TEST_CASE(a_small_message_budget_still_converges_over_more_rounds) {
  auto [a, b] = sets(20'000, 200, 200, 5);
  Options tight;
  tight.max_ranges = 128;
  auto ex = run(a, b, tight);
  check_converges(a, b, ex);
  BOOST_TEST(ex.messages > run(a, b).messages);
}

BOOST_AUTO_TEST_CASE(malformed_messages_are_rejected) {
  std::vector<Item> none;
  Reconciler r(none);
  auto good = r.initiate();
  BOOST_REQUIRE(validate_message(good).ok());
  auto rejects = [&](Bytes m, const std::string& why) {
    BOOST_TEST_CONTEXT(why) {
      auto st = validate_message(m);
      BOOST_TEST(!st.ok());
      BOOST_TEST(!r.reply(m, nullptr).ok());
    }
  };
  rejects({}, "empty");
  rejects({2, 0, 0}, "unknown version");
  rejects(Bytes(good.begin(), good.end() - 1), "truncated fingerprint");
  rejects({1, 5, 0, 0}, "no range reaches the end");
  rejects({1, 5, 0, 0, 0, 0, 0}, "a range after the end");
  rejects({1, 9, 0, 0, 1, 0, 0, 0}, "a bound that does not increase");  // time 8, then time 8 again
  rejects({1, 0, 3}, "unknown mode");
  rejects({1, 0, 2, 0xff, 0xff, 0x7f}, "a list longer than allowed");
  rejects({1, 0, 2, 2, 1, 2, 3}, "a truncated list");
  Options small;
  small.max_message_bytes = 4;
  BOOST_TEST(!validate_message(good, small).ok());
}

BOOST_AUTO_TEST_CASE(fingerprint_depends_on_the_set_not_the_order) {
  std::mt19937_64 rng(9);
  std::vector<Item> v;
  for (int i = 0; i < 50; ++i) v.push_back(random_item(rng, static_cast<std::uint64_t>(i)));
  auto f1 = fingerprint(v.data(), v.data() + v.size());
  std::reverse(v.begin(), v.end());
  BOOST_TEST((fingerprint(v.data(), v.data() + v.size()) == f1));
  v.pop_back();
  BOOST_TEST((fingerprint(v.data(), v.data() + v.size()) != f1));
  BOOST_TEST((fingerprint(v.data(), v.data()) != f1));
}

BOOST_AUTO_TEST_SUITE_END()
