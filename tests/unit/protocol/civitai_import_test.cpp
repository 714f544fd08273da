#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/civitai_import.h"
#include "support/require_ok.h"

using namespace seedbank::protocol;

BOOST_AUTO_TEST_SUITE(civitai_import_test)

BOOST_AUTO_TEST_CASE(model_version_object_is_imported) {
  auto r = parse_civitai_version_json(R"({
    "id": 128713, "modelId": 58390, "name": "v1.0", "baseModel": "SD 1.5",
    "trainedWords": ["add_detail", "detailed"], "description": null,
    "model": {"name": "Detail Tweaker LoRA", "type": "LORA", "nsfw": false, "poi": false},
    "images": [{"url": "https://example.invalid/a.jpeg", "nsfw": "None", "width": 768, "height": 1024,
                "meta": {"prompt": "a castle", "negativePrompt": "blurry", "steps": 30, "sampler": "Euler a",
                         "cfgScale": 7, "seed": 3920141096, "Size": "768x1024", "Model hash": "e4a30e4607",
                         "Model": "realisticVision", "Clip skip": 2, "Denoising strength": 0.4}}]
  })",
                                      "x.civitai.info");
  SB_REQUIRE_OK(r);
  BOOST_TEST(r->model_name == "Detail Tweaker LoRA");
  BOOST_TEST(r->version_name == "v1.0");
  BOOST_TEST(r->type == "LORA");
  BOOST_TEST(r->base_model == "SD 1.5");
  BOOST_TEST(r->trained_words.size() == 2u);
  BOOST_REQUIRE_EQUAL(r->images.size(), 1u);
  const auto& img = r->images[0];
  BOOST_TEST(img.width == 768u);
  BOOST_TEST(!img.nsfw);
  BOOST_REQUIRE(img.meta.has_value());
  BOOST_TEST(img.meta->prompt == "a castle");
  BOOST_TEST(img.meta->negative_prompt == "blurry");
  BOOST_TEST(img.meta->steps.value() == 30u);
  BOOST_TEST(img.meta->seed.value() == 3920141096);
  BOOST_TEST(img.meta->cfg_scale.value() == 7.0);
  BOOST_TEST(img.meta->width.value() == 768u);
  BOOST_TEST(img.meta->model_hash == "e4a30e4607");
  bool clip = false;
  for (const auto& [k, v] : img.meta->settings) clip = clip || (k == "Clip skip" && v == "2");
  BOOST_TEST(clip);
}

BOOST_AUTO_TEST_CASE(model_object_with_versions_takes_the_first_version) {
  auto r = parse_civitai_version_json(R"({"name": "Zyx", "type": "Checkpoint", "tags": ["anime", "style"],
    "modelVersions": [{"name": "v2", "baseModel": "SDXL 1.0"}, {"name": "v1"}]})",
                                      "model.json");
  SB_REQUIRE_OK(r);
  BOOST_TEST(r->model_name == "Zyx");
  BOOST_TEST(r->version_name == "v2");
  BOOST_TEST(r->base_model == "SDXL 1.0");
  BOOST_TEST(r->tags.size() == 2u);
}

BOOST_AUTO_TEST_CASE(ids_creator_file_hashes_and_permissions_are_read_for_mirrors) {
  auto r = parse_civitai_version_json(R"({
    "id": 2002, "modelId": 1001, "name": "v2", "creator": {"username": "painter"},
    "files": [{"name": "a.safetensors", "primary": true,
               "hashes": {"SHA256": "AB12000000000000000000000000000000000000000000000000000000000000", "AutoV2": "AB12000000"}},
              {"name": "b.yaml", "hashes": {}}],
    "model": {"name": "Sunset", "type": "LORA", "allowNoCredit": false, "allowCommercialUse": ["Image", "Rent"],
              "allowDerivatives": true, "allowDifferentLicense": false}
  })",
                                      "a.civitai.info");
  SB_REQUIRE_OK(r);
  BOOST_TEST(r->version_id == 2002u);
  BOOST_TEST(r->model_id == 1001u);
  BOOST_TEST(r->creator == "painter");
  BOOST_REQUIRE_EQUAL(r->files.size(), 2u);
  BOOST_TEST(r->files[0].primary);
  BOOST_REQUIRE(r->files[0].sha256.has_value());
  BOOST_TEST((*r->files[0].sha256)[0] == 0xab);
  BOOST_TEST(r->files[0].autov2 == "AB12000000");
  BOOST_TEST(!r->files[1].sha256.has_value());
  BOOST_TEST((r->allow_no_credit == std::optional<bool>(false)));
  BOOST_TEST((r->allow_different_license == std::optional<bool>(false)));
  BOOST_TEST(r->allow_commercial_use.size() == 2u);

  // ComfyUI-Lora-Manager's sidecar: the version under "civitai".
  auto lm = parse_civitai_version_json(R"({
    "file_name": "x", "model_name": "Thing", "file_path": "../../etc/passwd", "sha256": "ab",
    "civitai": {"id": 7, "modelId": 6, "name": "v1", "files": [{"name": "x.safetensors"}]}
  })",
                                       "x.metadata.json");
  SB_REQUIRE_OK(lm);
  BOOST_TEST(lm->version_id == 7u);
  BOOST_TEST(lm->model_id == 6u);
  BOOST_TEST(lm->model_name == "Thing");
  BOOST_TEST(lm->files.size() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_json_is_reported_with_the_file_name) {
  for (std::string bad : {"", "{", "[1,2]", "\"text\"", R"({"name": 5})", R"({"trainedWords": "x"})"}) {
    auto r = parse_civitai_version_json(bad, "bad.civitai.info");
    BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted: " << bad);
    BOOST_TEST(r.error().message.find("bad.civitai.info") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
