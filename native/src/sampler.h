// A llama.cpp sampler chain built from a list of stages; sampling reads the logits of one row of a
// context's last decode.
#pragma once

#include <napi.h>

#include <memory>

#include "model.h"

namespace vlmkit {

struct SamplerHandle {
  std::shared_ptr<ModelHandle> model;
  llama_sampler* chain = nullptr;
  /** The chain is greedy alone: sample by scanning the row's logits, without llama.cpp's n_vocab candidate array. */
  bool greedyOnly = false;
  ~SamplerHandle();
};

class Sampler : public Napi::ObjectWrap<Sampler> {
 public:
  static Napi::Function Init(Napi::Env env);

  /** new NativeSampler(model, stages) */
  explicit Sampler(const Napi::CallbackInfo& info);

 private:
  std::unique_ptr<SamplerHandle> handle_;

  SamplerHandle& Live(Napi::Env env) const;
  Napi::Value Sample(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
};

}  // namespace vlmkit
