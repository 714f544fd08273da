// AUTOMATIC1111 infotext and ComfyUI graphs -> GenerationParams, from text
// and from the fixture images (tests/fixtures/make_image_fixtures.py).
#include "seedbank/protocol/generation_params.h"

#include <boost/test/unit_test.hpp>

#include "support/require_ok.h"

#include <filesystem>
#include <string>

namespace sp = seedbank::protocol;

namespace {

std::filesystem::path fixture(std::string_view name) {
  return std::filesystem::path(SEEDBANK_FIXTURES_DIR) / "images" / name;
}

sp::ImageInfo read_fixture(std::string_view name) {
  auto info = sp::read_image_file(fixture(name));
  SB_REQUIRE_OK(info);
  return std::move(info).value();
}

std::string setting(const sp::GenerationParams& p, std::string_view key) {
  for (const auto& [k, v] : p.settings)
    if (k == key) return v;
  return "<absent>";
}

const std::string kComfyPrompt = R"({
  "3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 25, "cfg": 6.5,
        "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1,
        "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
  "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
  "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "x.safetensors"}},
  "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
  "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["10", 1]}},
  "7": {"class_type": "CLIPTextEncode", "inputs": {"text": ["8", 0], "clip": ["10", 1]}},
  "8": {"class_type": "PrimitiveString", "inputs": {"value": "fog, blur"}},
  "12": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
})";

}  // namespace

BOOST_AUTO_TEST_SUITE(generation_params_test)

BOOST_AUTO_TEST_CASE(a1111_png_round_trips_into_fields) {
  const auto info = read_fixture("a1111.png");
  const auto p = sp::generation_params_from_image(info);
  BOOST_REQUIRE(p.has_value());
  BOOST_CHECK_EQUAL(p->prompt,
                    "masterpiece, best quality, a red fox in a snowy forest,\n"
                    "(detailed fur:1.2), soft light");
  BOOST_CHECK_EQUAL(p->negative_prompt, "lowres, bad anatomy,\nblurry");
  BOOST_CHECK_EQUAL(p->steps.value_or(0), 20u);
  BOOST_CHECK_EQUAL(p->sampler, "Euler a");
  BOOST_CHECK_EQUAL(p->cfg_scale.value_or(0), 7.0);
  BOOST_CHECK_EQUAL(p->seed.value_or(0), 1234567890);
  BOOST_CHECK_EQUAL(p->width.value_or(0), 512u);
  BOOST_CHECK_EQUAL(p->height.value_or(0), 768u);
  BOOST_CHECK_EQUAL(p->model_hash, "6ce0161689");
  BOOST_CHECK_EQUAL(p->model_name, "v1-5-pruned-emaonly");
  BOOST_CHECK_EQUAL(setting(*p, "Lora hashes"), "add_detail: 7c6bc2b8d4, other: 0123456789");
  BOOST_CHECK_EQUAL(setting(*p, "Schedule type"), "Karras");
  BOOST_CHECK_EQUAL(setting(*p, "Version"), "v1.10.1");
  BOOST_CHECK_EQUAL(p->raw, sp::find_text(info, "parameters").value_or(""));
  BOOST_CHECK(p->comfy_prompt.empty());
}

BOOST_AUTO_TEST_CASE(a1111_jpeg_and_webp_carry_unicode_parameters) {
  for (std::string_view name : {"a1111.jpg", "a1111.webp"}) {
    BOOST_TEST_CONTEXT(name) {
      const auto p = sp::generation_params_from_image(read_fixture(name));
      BOOST_REQUIRE(p.has_value());
      BOOST_CHECK_EQUAL(p->prompt, "a red fox \xe7\x8b\x90 in the snow, caf\xc3\xa9 lights \xf0\x9f\xa6\x8a");
      BOOST_CHECK_EQUAL(p->negative_prompt, "blurry");
      BOOST_CHECK_EQUAL(p->steps.value_or(0), 28u);
      BOOST_CHECK_EQUAL(p->sampler, "DPM++ 2M");
      BOOST_CHECK_EQUAL(p->cfg_scale.value_or(0), 5.5);
      BOOST_CHECK_EQUAL(p->seed.value_or(0), 3735928559);  // above 2^31
      BOOST_CHECK_EQUAL(p->model_name, "sd_xl_base_1.0");
    }
  }
}

BOOST_AUTO_TEST_CASE(settings_keep_order_and_unescape_quotes) {
  const auto p = sp::parse_a1111_parameters(
      "cat\nSteps: 20, Sampler: DPM++ 2M Karras, TI hashes: \"easyneg: a1b2, bad \\\"hands\\\": c3\", "
      "Template: \"line one\\nline two \\u00e9\", Version: f2.0.1");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Steps", "20"},
      {"Sampler", "DPM++ 2M Karras"},
      {"TI hashes", "easyneg: a1b2, bad \"hands\": c3"},
      {"Template", "line one\nline two \xc3\xa9"},
      {"Version", "f2.0.1"},
  };
  BOOST_CHECK(p.settings == expected);
  BOOST_CHECK_EQUAL(p.prompt, "cat");
}

BOOST_AUTO_TEST_CASE(multi_line_prompt_and_negative_prompt) {
  const auto p = sp::parse_a1111_parameters(
      "line one\n\nline three, with: colon\nNegative prompt: bad\nworse\n"
      "Steps: 30, Sampler: Euler, CFG scale: 4.5, Seed: 7, Size: 1024x1024");
  BOOST_CHECK_EQUAL(p.prompt, "line one\n\nline three, with: colon");
  BOOST_CHECK_EQUAL(p.negative_prompt, "bad\nworse");
  BOOST_CHECK_EQUAL(p.steps.value_or(0), 30u);
  BOOST_CHECK_EQUAL(p.cfg_scale.value_or(0), 4.5);
  BOOST_CHECK_EQUAL(p.width.value_or(0), 1024u);
}

BOOST_AUTO_TEST_CASE(prompt_without_negative_prompt) {
  const auto p = sp::parse_a1111_parameters("a cat on a sofa\nSteps: 20, Sampler: Euler a, Seed: 9");
  BOOST_CHECK_EQUAL(p.prompt, "a cat on a sofa");
  BOOST_CHECK(p.negative_prompt.empty());
  BOOST_CHECK_EQUAL(p.seed.value_or(0), 9);
}

BOOST_AUTO_TEST_CASE(text_without_settings_line_is_all_prompt) {
  const std::string text = "a cat on a sofa\nwith a hat";
  const auto p = sp::parse_a1111_parameters(text);
  BOOST_CHECK_EQUAL(p.prompt, text);
  BOOST_CHECK_EQUAL(p.raw, text);
  BOOST_CHECK(p.settings.empty());
  BOOST_CHECK(!p.steps);
}

BOOST_AUTO_TEST_CASE(steps_inside_a_sentence_is_not_a_settings_line) {
  for (std::string text : {"a staircase of 12 Steps: marble, gold, at dawn", "Steps: up to the castle, moonlight",
                           "temple\nSeed: of life, glowing"}) {
    BOOST_TEST_CONTEXT(text) {
      const auto p = sp::parse_a1111_parameters(text);
      BOOST_CHECK_EQUAL(p.prompt, text);
      BOOST_CHECK(p.settings.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(windows_line_endings_and_trailing_whitespace) {
  const auto p = sp::parse_a1111_parameters(
      "a cat  \r\nsecond line\r\nNegative prompt: dog \r\n"
      "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: -1, Size: 512x768  \r\n\r\n  ");
  BOOST_CHECK_EQUAL(p.prompt, "a cat\nsecond line");
  BOOST_CHECK_EQUAL(p.negative_prompt, "dog");
  BOOST_CHECK_EQUAL(p.height.value_or(0), 768u);
  BOOST_CHECK_EQUAL(p.seed.value_or(0), -1);  // "random"
}

BOOST_AUTO_TEST_CASE(seeds_beyond_32_bits_and_bad_numbers) {
  const auto p = sp::parse_a1111_parameters("x\nSteps: 20, CFG scale: lots, Seed: 98765432109876, Size: big");
  BOOST_CHECK_EQUAL(p.seed.value_or(0), 98765432109876);
  BOOST_CHECK(!p.cfg_scale);
  BOOST_CHECK(!p.width);
  BOOST_CHECK_EQUAL(setting(p, "CFG scale"), "lots");  // kept as text
}

BOOST_AUTO_TEST_CASE(settings_line_only) {
  const auto p = sp::parse_a1111_parameters("Steps: 4, Sampler: LCM, CFG scale: 1");
  BOOST_CHECK(p.prompt.empty());
  BOOST_CHECK_EQUAL(p.steps.value_or(0), 4u);
  BOOST_CHECK_EQUAL(p.sampler, "LCM");
}

BOOST_AUTO_TEST_CASE(empty_text_gives_empty_params) {
  BOOST_CHECK(sp::parse_a1111_parameters("").empty());
  BOOST_CHECK(sp::parse_a1111_parameters(" \r\n\n ").empty());
  BOOST_CHECK(!sp::parse_a1111_parameters("x").empty());
}

BOOST_AUTO_TEST_CASE(comfyui_png_keeps_json_and_reads_the_graph) {
  const auto info = read_fixture("comfyui.png");
  const auto p = sp::generation_params_from_image(info);
  BOOST_REQUIRE(p.has_value());
  BOOST_CHECK_EQUAL(p->comfy_prompt, sp::find_text(info, "prompt").value_or("?"));
  BOOST_CHECK_EQUAL(p->comfy_workflow, sp::find_text(info, "workflow").value_or("?"));
  BOOST_CHECK_EQUAL(p->prompt, "beautiful scenery nature glass bottle landscape, purple galaxy bottle,");
  BOOST_CHECK_EQUAL(p->negative_prompt, "text, watermark");
  BOOST_CHECK_EQUAL(p->seed.value_or(0), 156680208700286);
  BOOST_CHECK_EQUAL(p->steps.value_or(0), 20u);
  BOOST_CHECK_EQUAL(p->cfg_scale.value_or(0), 8.0);
  BOOST_CHECK_EQUAL(p->sampler, "euler");
  BOOST_CHECK_EQUAL(p->model_name, "v1-5-pruned-emaonly.safetensors");
  BOOST_CHECK_EQUAL(p->width.value_or(0), 512u);
  BOOST_CHECK_EQUAL(p->height.value_or(0), 768u);
}

BOOST_AUTO_TEST_CASE(comfyui_links_are_followed) {
  sp::ImageInfo info;
  info.text = {{"prompt", kComfyPrompt}};
  const auto p = sp::generation_params_from_image(info);
  BOOST_REQUIRE(p.has_value());
  BOOST_CHECK_EQUAL(p->prompt, "a lighthouse at dusk");
  BOOST_CHECK_EQUAL(p->negative_prompt, "fog, blur");             // through a string node
  BOOST_CHECK_EQUAL(p->model_name, "dreamshaper_8.safetensors");  // through a LoRA loader
  BOOST_CHECK_EQUAL(p->sampler, "dpmpp_2m");                      // not KSamplerSelect's
  BOOST_CHECK_EQUAL(p->seed.value_or(0), 42);
  BOOST_CHECK_EQUAL(p->cfg_scale.value_or(0), 6.5);
  BOOST_CHECK_EQUAL(p->width.value_or(0), 832u);
  BOOST_CHECK(p->comfy_workflow.empty());
}

BOOST_AUTO_TEST_CASE(comfyui_graph_of_odd_shape_is_kept_verbatim) {
  const std::string deep = "{\"a\": " + std::string(100000, '[');
  for (const std::string& json :
       {std::string("{not json"), std::string("{\"3\": [1, 2]}"),
        // A link cycle, a string seed and a negative step count.
        std::string("{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"positive\": [\"3\", 0], "
                    "\"conditioning\": [\"3\", 0], \"seed\": \"x\", \"steps\": -4}}}"),
        deep}) {
    sp::ImageInfo info;
    info.text = {{"prompt", json}};
    const auto p = sp::generation_params_from_image(info);
    BOOST_REQUIRE(p.has_value());
    BOOST_CHECK_EQUAL(p->comfy_prompt, json);
    BOOST_CHECK(p->prompt.empty());
    BOOST_CHECK(!p->seed);
    BOOST_CHECK(!p->steps);
  }
}

BOOST_AUTO_TEST_CASE(a1111_fields_win_over_comfyui_graph) {
  sp::ImageInfo info;
  info.text = {{"parameters", "from a1111\nSteps: 12, Sampler: Euler"}, {"prompt", kComfyPrompt}};
  const auto p = sp::generation_params_from_image(info);
  BOOST_REQUIRE(p.has_value());
  BOOST_CHECK_EQUAL(p->prompt, "from a1111");
  BOOST_CHECK_EQUAL(p->steps.value_or(0), 12u);
  BOOST_CHECK_EQUAL(p->sampler, "Euler");
  BOOST_CHECK_EQUAL(p->seed.value_or(0), 42);  // only the graph has it
  BOOST_CHECK_EQUAL(p->comfy_prompt, kComfyPrompt);
}

BOOST_AUTO_TEST_CASE(jpeg_comment_counts_only_with_a_settings_line) {
  sp::ImageInfo info;
  info.text = {{"comment", "a fox\nSteps: 20, Sampler: Euler a, Seed: 3"}};
  const auto p = sp::generation_params_from_image(info);
  BOOST_REQUIRE(p.has_value());
  BOOST_CHECK_EQUAL(p->prompt, "a fox");

  info.text = {{"comment", "Created with GIMP"}};
  BOOST_CHECK(!sp::generation_params_from_image(info).has_value());
}

BOOST_AUTO_TEST_CASE(image_without_parameters_gives_nullopt) {
  sp::ImageInfo info;
  BOOST_CHECK(!sp::generation_params_from_image(info).has_value());
  info.text = {{"Software", "Photoshop"}, {"parameters", "  \n "}};
  BOOST_CHECK(!sp::generation_params_from_image(info).has_value());
  BOOST_CHECK(!sp::generation_params_from_image(read_fixture("lossless.webp")).has_value());
}

BOOST_AUTO_TEST_CASE(resources_come_from_every_hash_a1111_writes) {
  const auto p = sp::parse_a1111_parameters(
      "a cat <lora:add_detail:0.6>, <lora:my style:1.2:te=1>\n"
      "Negative prompt: blurry\n"
      "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 6CE0161689, "
      "Model: v1-5-pruned, VAE hash: 735e4c3a44, VAE: vae-ft-mse.safetensors, "
      "Lora hashes: \"add_detail: 7c6bad76eb54, my style: 0123456789ab, broken\", "
      "TI hashes: \"easynegative: c74b4e810b03\", "
      "Hashes: {\"model\": \"6ce0161689\", \"lora:other\": \"abcdef012345\", \"embed:bad\": \"zz\"}, Version: v1.6.0");
  const auto r = sp::generation_resources(p);
  BOOST_TEST_REQUIRE(r.size() == 6u);
  auto check = [&](std::size_t i, const char* type, const char* name, const char* hash, std::optional<double> w) {
    BOOST_TEST(r[i].type == type);
    BOOST_TEST(r[i].name == name);
    BOOST_TEST(r[i].hash == hash);
    BOOST_TEST(r[i].weight.has_value() == w.has_value());
    if (w && r[i].weight) BOOST_TEST(*r[i].weight == *w);
  };
  check(0, "model", "v1-5-pruned", "6ce0161689", std::nullopt);  // lowercased, and once though named twice
  check(1, "vae", "vae-ft-mse.safetensors", "735e4c3a44", std::nullopt);
  check(2, "lora", "add_detail", "7c6bad76eb54", 0.6);
  check(3, "lora", "my style", "0123456789ab", 1.2);
  check(4, "embed", "easynegative", "c74b4e810b03", std::nullopt);
  check(5, "lora", "other", "abcdef012345", std::nullopt);  // not in the prompt: no weight
}

BOOST_AUTO_TEST_CASE(resources_skip_what_is_not_a_hash) {
  auto resources = [](const std::string& settings) {
    return sp::generation_resources(sp::parse_a1111_parameters("a cat\nSteps: 20, " + settings));
  };
  BOOST_TEST(resources("Sampler: Euler a, Model: x").empty());                      // a name, no hash
  BOOST_TEST(resources("Model hash: 1234567, Model: x").empty());                   // 7 digits
  BOOST_TEST(resources("Lora hashes: \"a: <b>, c:, : 0123456789\"").size() == 1u);  // only the last is one
  BOOST_TEST(resources("Hashes: {\"model\": 5, \"lora:x\": \"0123456789abcdef0g\"}").empty());
  BOOST_TEST(resources("Hashes: {\"model\": 5, \"lora:x\": \"0123456789abcdef0\"}").size() == 1u);  // 17 digits
  BOOST_TEST(resources("Hashes: {\"model\": \"0123456789\"]").empty());                             // not JSON
  BOOST_TEST(resources("Hashes: {\"thing:x\": \"0123456789\"}").empty());  // a kind no tool writes
  std::string many = "Lora hashes: \"";
  for (int i = 0; i < 40; ++i) many += "l" + std::to_string(i) + ": " + std::to_string(1000000000 + i) + ", ";
  BOOST_TEST(resources(many + "\"").size() == sp::kMaxGenerationResources);
}

BOOST_AUTO_TEST_SUITE_END()
