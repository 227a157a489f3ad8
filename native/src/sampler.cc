#include "sampler.h"

#include <climits>
#include <string>
#include <vector>

#include "common.h"
#include "context.h"

namespace vlmkit {

SamplerHandle::~SamplerHandle() {
  if (chain != nullptr) Llama().llama_sampler_free(chain);
}

namespace {

const char* const kStageTypes = "\"greedy\", \"dist\", \"temperature\", \"topK\", \"topP\", \"minP\", \"penalties\"";

bool IsKnownStage(const std::string& type) {
  for (const char* known : {"greedy", "dist", "temperature", "topK", "topP", "minP", "penalties"})
    if (type == known) return true;
  return false;
}

/** Builds one llama.cpp sampler from a stage object {type, ...}; throws before allocating on bad input. */
// `type` was read (once) and checked by the caller: a getter cannot swap a selecting stage away.
llama_sampler* MakeStage(Napi::Env env, const Napi::Object& stage, const std::string& type, const std::string& name,
                         int32_t nVocab) {
  const LlamaApi& api = Llama();
  if (type == "greedy") return api.llama_sampler_init_greedy();
  if (type == "dist") {
    const auto seed = static_cast<uint32_t>(ToInt(env, stage.Get("seed"), name + ".seed", 0, UINT32_MAX));
    return api.llama_sampler_init_dist(seed);
  }
  if (type == "temperature") return api.llama_sampler_init_temp(static_cast<float>(
      ToNumber(env, stage.Get("temperature"), name + ".temperature", 0, 1e6)));
  if (type == "topK")
    return api.llama_sampler_init_top_k(static_cast<int32_t>(ToInt(env, stage.Get("k"), name + ".k", 0, nVocab)));
  if (type == "topP")
    return api.llama_sampler_init_top_p(static_cast<float>(ToNumber(env, stage.Get("p"), name + ".p", 0, 1)), 1);
  if (type == "minP")
    return api.llama_sampler_init_min_p(static_cast<float>(ToNumber(env, stage.Get("p"), name + ".p", 0, 1)), 1);
  if (type == "penalties") {
    // llama.cpp allocates a ring buffer of lastN tokens (and treats -1 as 0): bound it.
    const auto lastN = static_cast<int32_t>(ToInt(env, stage.Get("lastN"), name + ".lastN", 0, 1 << 20));
    const auto repeat = static_cast<float>(ToNumber(env, stage.Get("repeat"), name + ".repeat", 1e-6, 1e6));
    const auto frequency = static_cast<float>(ToNumber(env, stage.Get("frequency"), name + ".frequency", -1e6, 1e6));
    const auto presence = static_cast<float>(ToNumber(env, stage.Get("presence"), name + ".presence", -1e6, 1e6));
    return api.llama_sampler_init_penalties(nVocab, lastN, repeat, frequency, presence);
  }
  ThrowInvalid(env, name + ".type must be one of " + kStageTypes + "; got \"" + type + "\"");
}

}  // namespace

Napi::Function Sampler::Init(Napi::Env env) {
  return DefineClass(env, "NativeSampler",
                     {
                         InstanceMethod("sample", &Sampler::Sample),
                         InstanceMethod("accept", &Sampler::Accept),
                         InstanceMethod("reset", &Sampler::Reset),
                         InstanceMethod("dispose", &Sampler::Dispose),
                         InstanceAccessor("disposed", &Sampler::Disposed, nullptr),
                     });
}

// stages: [{type: "penalties", lastN, repeat, frequency, presence}, {type: "topK", k}, {type: "topP", p},
//          {type: "minP", p}, {type: "temperature", temperature}, …, {type: "greedy"} | {type: "dist", seed}]
// The last stage must select a token (greedy or dist): llama.cpp asserts that one was selected.
Sampler::Sampler(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sampler>(info) {
  Napi::Env env = info.Env();
  std::shared_ptr<ModelHandle> model = Model::HandleOf(env, info[0], "model");
  if (!info[1].IsArray()) ThrowInvalid(env, "stages must be an array, got " + Describe(info[1]));
  const Napi::Array stages = info[1].As<Napi::Array>();
  const uint32_t n = stages.Length();
  if (n == 0) ThrowInvalid(env, "stages is empty: expected at least a final \"greedy\" or \"dist\" stage");
  std::vector<Napi::Object> objects;
  std::vector<std::string> types;
  for (uint32_t i = 0; i < n; i++) {
    const std::string name = "stages[" + std::to_string(i) + "]";
    objects.push_back(ToObject(env, stages.Get(i), name));
    const std::string type = ToString(env, objects.back().Get("type"), name + ".type");
    types.push_back(type);
    if (!IsKnownStage(type))
      ThrowInvalid(env, name + ".type must be one of " + kStageTypes + "; got \"" + type + "\"");
    const bool selects = type == "greedy" || type == "dist";
    if (selects != (i == n - 1))
      ThrowInvalid(env, name + " is \"" + type + "\": exactly the last stage must be \"greedy\" or \"dist\"");
  }
  auto h = std::make_unique<SamplerHandle>();
  h->model = std::move(model);
  const LlamaApi& api = Llama();
  auto params = api.llama_sampler_chain_default_params();
  params.no_perf = true;
  h->chain = api.llama_sampler_chain_init(params);
  for (uint32_t i = 0; i < n; i++) {
    const std::string name = "stages[" + std::to_string(i) + "]";
    // The chain owns the stages already added, so a throw here frees them with the handle.
    api.llama_sampler_chain_add(h->chain, MakeStage(env, objects[i], types[i], name, h->model->nVocab));
  }
  h->greedyOnly = n == 1 && types[0] == "greedy";
  handle_ = std::move(h);
}

SamplerHandle& Sampler::Live(Napi::Env env) const {
  if (!handle_) Throw(env, "DISPOSED", "the sampler has been disposed");
  return *handle_;
}

// sample(context, row) → token id, chosen from the logits of batch row `row` of the context's last
// decode. llama.cpp also accepts the token into the chain (penalty history).
Napi::Value Sampler::Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SamplerHandle& s = Live(env);
  std::shared_ptr<ContextHandle> c = Context::IdleHandleOf(env, info[0], "context");
  if (c->model->model != s.model->model)
    ThrowInvalid(env, "the sampler and the context belong to different models");
  Context::CheckOutputRow(env, *c, info[1]);
  const int32_t row = info[1].As<Napi::Number>().Int32Value();
  if (s.greedyOnly) {
    // What llama.cpp's greedy stage selects (the first highest logit), without first copying the row
    // into an n_vocab array of candidates: with a 262k vocabulary that copy dominated a greedy step's
    // sampling, and it runs on the JS thread. The greedy stage keeps no history, so nothing is accepted.
    const float* logits = Llama().llama_get_logits_ith(c->ctx, row);
    if (logits == nullptr) Throw(env, "NATIVE", "llama_get_logits_ith(" + std::to_string(row) + ") returned no logits");
    const int32_t n = s.model->nVocab;
    int32_t best = 0;
    float bestLogit = logits[0];
    for (int32_t i = 1; i < n; i++) {
      const float v = logits[i];
      if (v > bestLogit) {
        bestLogit = v;
        best = i;
      }
    }
    return Napi::Number::New(env, best);
  }
  return Napi::Number::New(env, Llama().llama_sampler_sample(s.chain, c->ctx, row));
}

// accept(token): records a token in the chain's history (prompt tokens, for repetition penalties).
Napi::Value Sampler::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SamplerHandle& s = Live(env);
  const auto token = static_cast<llama_token>(ToInt(env, info[0], "token", 0, s.model->nVocab - 1));
  Llama().llama_sampler_accept(s.chain, token);
  return env.Undefined();
}

Napi::Value Sampler::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Llama().llama_sampler_reset(Live(env).chain);
  return env.Undefined();
}

Napi::Value Sampler::Dispose(const Napi::CallbackInfo& info) {
  handle_.reset();
  return info.Env().Undefined();
}

Napi::Value Sampler::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !handle_); }

}  // namespace vlmkit
