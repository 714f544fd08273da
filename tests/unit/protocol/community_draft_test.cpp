#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/community_draft.h"
#include "support/require_ok.h"
#include "support/test_records.h"

using namespace seedbank;
using namespace seedbank::protocol;

namespace {

Result<Record> signed_draft(const SecretKey& key, const CommunityDraft& draft, std::uint64_t t) {
  auto bytes = sign_draft(key, "test", t, draft, 0);
  if (!bytes) return bytes.error();
  return verify_record(*bytes, "test");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(community_draft_test)

BOOST_AUTO_TEST_CASE(a_rating_outside_one_to_five_stars_is_refused_before_signing) {
  auto key = SecretKey::generate();
  for (unsigned stars : {0u, 6u}) {
    auto bytes = sign_draft(key, "test", testing::now_ms(), RatingDraft{RecordId{}, stars, ""}, 0);
    BOOST_REQUIRE(!bytes);
    BOOST_TEST(bytes.error().message == "stars must be 1 to 5");
    BOOST_TEST((bytes.error().code == ErrorCode::invalid_argument));
  }
}

BOOST_AUTO_TEST_CASE(each_draft_signs_a_record_of_its_kind) {
  auto key = SecretKey::generate();
  RecordId release{};
  release[0] = 7;
  auto t = testing::now_ms();

  auto rating = signed_draft(key, RatingDraft{release, 4, "good"}, t);
  SB_REQUIRE_OK(rating);
  BOOST_TEST((rating->kind() == RecordKind::rating));
  BOOST_TEST(rating->body().getPayload().getRating().getStars() == 4u);
  BOOST_TEST(draft_kind(RatingDraft{}) == "rating");

  auto profile = signed_draft(key, ProfileDraft{"Ann", "bio", {"https://example.org"}, std::nullopt}, t);
  SB_REQUIRE_OK(profile);
  BOOST_TEST(std::string(profile->body().getPayload().getProfile().getDisplayName().cStr()) == "Ann");
  BOOST_TEST(profile->body().getPayload().getProfile().getLinks().size() == 1u);

  DenyListDraft list{"spam", {{DenyEntryDraft::Target::creator, key.public_key().bytes, "why"}}};
  auto deny = signed_draft(key, list, t);
  SB_REQUIRE_OK(deny);
  BOOST_TEST((deny->kind() == RecordKind::deny_list));
  BOOST_TEST(deny->body().getPayload().getDenyList().getEntries()[0].getTarget().isCreator());
  BOOST_TEST(draft_kind(list) == "denyList");
}

BOOST_AUTO_TEST_CASE(a_key_rotation_carries_the_new_keys_consent) {
  auto old_key = SecretKey::generate();
  auto new_key = SecretKey::generate();
  auto t = testing::now_ms();
  auto draft = key_rotation_draft(old_key.public_key(), new_key, t);
  draft.revoke_old = true;
  auto rec = signed_draft(old_key, draft, t);
  SB_REQUIRE_OK(rec);  // verify_record checks the consent over the same createdAt
  BOOST_TEST((rec->kind() == RecordKind::key_rotation));
  BOOST_TEST(rec->body().getPayload().getKeyRotation().getRevokeOld());

  auto late = signed_draft(old_key, draft, t + 1);
  BOOST_TEST(!late.ok());  // the consent was for another time
}

BOOST_AUTO_TEST_CASE(an_empty_display_name_is_refused) {
  auto key = SecretKey::generate();
  BOOST_TEST(!sign_draft(key, "test", testing::now_ms(), ProfileDraft{}, 0).ok());
}

BOOST_AUTO_TEST_CASE(reactions_and_comments_sign_with_their_subject_and_bad_ones_are_refused) {
  auto key = SecretKey::generate();
  auto t = testing::now_ms();
  SubjectDraft image{RecordId{1}, Sha256Digest{2}, std::nullopt};
  auto reaction = signed_draft(key, ReactionDraft{image, ReactionKind::heart}, t);
  SB_REQUIRE_OK(reaction);
  BOOST_TEST((reaction->kind() == RecordKind::reaction));
  BOOST_TEST((reaction->body().getPayload().getReaction().getKind() == schema::ReactionKind::HEART));
  BOOST_TEST(reaction->body().getPayload().getReaction().getSubject().getImage().size() == 32u);
  BOOST_TEST(reaction->body().getPayload().getReaction().getSubject().getPost().size() == 0u);
  BOOST_TEST((parse_reaction("Laugh") == ReactionKind::laugh));
  BOOST_TEST(!parse_reaction("dislike"));

  SubjectDraft whole{RecordId{1}, std::nullopt, std::nullopt};
  auto reply = signed_draft(key, CommentDraft{whole, RecordId{3}, "**yes**", std::nullopt, false}, t);
  SB_REQUIRE_OK(reply);
  BOOST_TEST((reply->kind() == RecordKind::comment));
  BOOST_TEST(reply->body().getPayload().getComment().getParent().size() == 32u);
  BOOST_TEST(draft_kind(CommentDraft{}) == "comment");
  // A deletion carries no text, whatever the draft held.
  auto gone = signed_draft(key, CommentDraft{whole, std::nullopt, "old text", RecordId{4}, true}, t);
  SB_REQUIRE_OK(gone);
  BOOST_TEST(gone->body().getPayload().getComment().getText().size() == 0u);

  auto refused = [&](const CommunityDraft& d, std::string_view words) {
    auto bytes = sign_draft(key, "test", t, d, 0);
    BOOST_REQUIRE(!bytes);
    BOOST_TEST(bytes.error().message.find(words) != std::string::npos, bytes.error().message);
  };
  refused(CommentDraft{whole, std::nullopt, "  \n", std::nullopt, false}, "needs some text");
  refused(CommentDraft{whole, std::nullopt, std::string(8193, 'a'), std::nullopt, false}, "8 KiB");
  refused(CommentDraft{whole, std::nullopt, "", std::nullopt, true}, "which of your comments");
  refused(ReactionDraft{SubjectDraft{RecordId{1}, Sha256Digest{2}, RecordId{3}}, ReactionKind::like}, "not both");
}

BOOST_AUTO_TEST_SUITE_END()
