// JSON views shared by the CLI and (later) the HTTP API. Private to node/.
#pragma once

#include <nlohmann/json.hpp>

#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/safetensors.h"

namespace seedbank::node {

// Civitai's image "meta" object: prompt, negativePrompt, steps, sampler,
// cfgScale, seed, Size, "Model hash", Model, then every other setting under
// its own name as written by the generator.
nlohmann::ordered_json generation_meta_json(const protocol::GenerationParams& params);

nlohmann::ordered_json model_hints_json(const protocol::ModelHints& hints);

}  // namespace seedbank::node
