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

// A release update names the whole new state of a page; apply_update
// shows it over the signed release: only the release's own images, in the
// update's order with its levels, and only when the release's author
// signed it.
BOOST_AUTO_TEST_CASE(an_update_shows_over_its_release_and_only_its_authors) {
  auto key = SecretKey::generate(), other = SecretKey::generate();
  auto t = testing::now_ms();
  auto draft = testing::sample_release(3);
  auto second = draft.images[0];
  second.name = "b.png";
  second.sha256 = testing::fake_digest(3, 9);
  draft.images.push_back(second);
  draft.model_description = "model page";
  auto release = load_stored_record(testing::sign_release(key, draft, t));
  SB_REQUIRE_OK(release);
  BOOST_TEST(release->body().getPayload().getRelease().getModelDescription().cStr() == std::string("model page"));

  auto change = update_draft_of(*release);
  BOOST_TEST(change.model_description == "model page");
  BOOST_TEST(change.images.size() == 2u);
  std::swap(change.images[0], change.images[1]);
  change.images[0].nsfw_level = kXXX;
  auto stranger = change.images[1];
  stranger.sha256 = testing::fake_digest(99, 1);  // not the release's: not shown by this version
  change.images.push_back(stranger);
  change.tags = {"new"};
  change.description = "notes";
  auto update = signed_draft(key, change, t + 1);
  SB_REQUIRE_OK(update);
  BOOST_TEST((update->kind() == RecordKind::release_update));
  BOOST_TEST(draft_kind(change) == "releaseUpdate");

  auto shown = apply_update(*release, *update);
  BOOST_REQUIRE(shown.has_value());
  BOOST_TEST(shown->id() == release->id());
  auto r = shown->body().getPayload().getRelease();
  BOOST_TEST(r.getDescription().cStr() == std::string("notes"));
  BOOST_TEST(r.getModelName().cStr() == draft.model_name);
  BOOST_REQUIRE_EQUAL(r.getImages().size(), 2u);
  BOOST_TEST(r.getImages()[0].getName().cStr() == std::string("b.png"));
  BOOST_TEST(nsfw_level_of(r.getImages()[0]) == kXXX);
  BOOST_TEST(r.getImages()[1].getName().cStr() == draft.images[0].name);
  BOOST_TEST(r.getTorrent().getInfo().size() == draft.torrent_info.size());

  // Another key's update, or one naming another release, shows nothing.
  auto forged = signed_draft(other, change, t + 2);
  SB_REQUIRE_OK(forged);
  BOOST_TEST(!apply_update(*release, *forged).has_value());
  auto elsewhere = change;
  elsewhere.release[0] ^= 1;
  auto misaddressed = signed_draft(key, elsewhere, t + 3);
  SB_REQUIRE_OK(misaddressed);
  BOOST_TEST(!apply_update(*release, *misaddressed).has_value());

  // Limits: an image twice, oversized text, too many tags.
  auto twice = update_draft_of(*release);
  twice.images.push_back(twice.images[0]);
  auto bytes = sign_draft(key, "test", t, twice, 0);
  BOOST_REQUIRE(!bytes);
  BOOST_TEST(bytes.error().message.find("listed twice") != std::string::npos, bytes.error().message);
  auto big = update_draft_of(*release);
  big.model_description.assign(100 * 1024 + 1, 'a');
  bytes = sign_draft(key, "test", t, big, 0);
  BOOST_REQUIRE(!bytes);
  BOOST_TEST(bytes.error().message.find("releaseUpdate.modelDescription") != std::string::npos, bytes.error().message);
  auto tags = update_draft_of(*release);
  tags.tags.assign(65, "t");
  bytes = sign_draft(key, "test", t, tags, 0);
  BOOST_REQUIRE(!bytes);
  BOOST_TEST(bytes.error().message.find("releaseUpdate.tags") != std::string::npos, bytes.error().message);
}

BOOST_AUTO_TEST_CASE(a_collection_lists_releases_images_and_posts_in_order_and_a_deletion_holds_nothing) {
  auto key = SecretKey::generate();
  RecordId release{}, post{};
  release[0] = 1;
  post[0] = 2;
  Sha256Digest image{};
  image[0] = 3;
  CollectionDraft d{"my-loras", "My LoRAs", "The *best*", {}, false};
  d.items.push_back({{release, std::nullopt, std::nullopt}, "start here"});
  d.items.push_back({{release, image, std::nullopt}, ""});
  d.items.push_back({{release, std::nullopt, post}, ""});
  auto rec = signed_draft(key, d, testing::now_ms());
  SB_REQUIRE_OK(rec);
  BOOST_TEST((rec->kind() == RecordKind::collection));
  BOOST_TEST(draft_kind(d) == "collection");
  auto back = collection_draft_of(*rec);
  BOOST_TEST(back.slug == "my-loras");
  BOOST_TEST(back.name == "My LoRAs");
  BOOST_TEST((back.items == d.items));

  // What the user can get wrong, each with its own message.
  auto refused = [&](CollectionDraft c, const std::string& words) {
    auto bytes = sign_draft(key, "test", testing::now_ms(), c, 0);
    BOOST_REQUIRE(!bytes);
    BOOST_TEST(bytes.error().message.find(words) != std::string::npos, bytes.error().message);
  };
  refused({"My LoRAs", "x", "", {}, false}, "is not a collection slug");
  refused({"", "x", "", {}, false}, "is not a collection slug");
  refused({"ok", " ", "", {}, false}, "needs a name");
  auto twice = d;
  twice.items.push_back(d.items[1]);
  refused(twice, "listed twice");
  auto both = d;
  both.items.push_back({{release, image, post}, ""});
  refused(both, "not both");

  // A deletion signs its slug alone, whatever else the draft held.
  auto deletion = d;
  deletion.deleted = true;
  auto gone = signed_draft(key, deletion, testing::now_ms());
  SB_REQUIRE_OK(gone);
  auto c = gone->body().getPayload().getCollection();
  BOOST_TEST(c.getDeleted());
  BOOST_TEST(c.getItems().size() == 0u);
  BOOST_TEST(c.getName().size() == 0u);

  BOOST_TEST(collection_slug_of("My LoRAs!") == "my-loras");
  BOOST_TEST(collection_slug_of("  Éclair  2 ") == "clair-2");
  BOOST_TEST(collection_slug_of("!!!") == "collection");
}

BOOST_AUTO_TEST_SUITE_END()
