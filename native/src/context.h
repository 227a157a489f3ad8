// A llama.cpp context with several sequences: decode of token or embedding batches on the context's own
// decode thread, logits of the rows that asked for them, and KV-cache sequence operations.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <vector>

#include "decode-thread.h"
#include "model.h"

namespace vlmkit {

struct ContextHandle {
  std::shared_ptr<ModelHandle> model;
  llama_context* ctx = nullptr;
  /** ggml's persistent CPU threadpool attached to ctx, or null (ggml then starts threads per graph). */
  ggml_threadpool_t threadpool = nullptr;
  void (*threadpoolFree)(ggml_threadpool_t) = nullptr;
  llama_memory_t memory = nullptr;
  uint32_t nCtx = 0;
  /** Positions one sequence may use: nCtx with a unified KV cache, nCtx / nSeqMax otherwise. */
  uint32_t nCtxSeq = 0;
  uint32_t nBatch = 0;
  uint32_t nUbatch = 0;
  uint32_t nSeqMax = 0;
  bool kvUnified = false;
  /** The threads the context was created with: setThreads may lower the count used, never raise it past this. */
  int32_t maxThreads = 1;
  /** Batch indices whose logits the last successful decode produced, ascending. */
  std::vector<int32_t> outputRows;
  /** A decode is queued or running on the decode thread; only read and written on the JS thread. */
  bool busy = false;
  /** Runs every llama_decode of this context, one after another (decode-thread.h). */
  std::unique_ptr<DecodeThread> decodeThread;
  /** Set from the JS thread to stop the running decode; read by llama.cpp's abort callback. */
  std::atomic<bool> abortRequested{false};
  ~ContextHandle();
};

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Init(Napi::Env env);
  /** The live, idle handle of a JS Context argument, or throws (wrong type, disposed, busy). */
  static std::shared_ptr<ContextHandle> IdleHandleOf(Napi::Env env, const Napi::Value& value, const char* name);
  /** `row` is a batch index whose logits the last decode produced, or throws. */
  static void CheckOutputRow(Napi::Env env, const ContextHandle& h, const Napi::Value& row);

  /** new NativeContext(model, options) */
  explicit Context(const Napi::CallbackInfo& info);

 private:
  static Napi::FunctionReference constructor;
  std::shared_ptr<ContextHandle> handle_;

  ContextHandle& Idle(Napi::Env env) const;
  llama_seq_id SeqId(Napi::Env env, const Napi::Value& value, const char* name, bool allowAny) const;
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value Logits(const Napi::CallbackInfo& info);
  Napi::Value SeqRemove(const Napi::CallbackInfo& info);
  Napi::Value SeqCopy(const Napi::CallbackInfo& info);
  Napi::Value SeqKeep(const Napi::CallbackInfo& info);
  Napi::Value SeqPosMin(const Napi::CallbackInfo& info);
  Napi::Value SeqPosMax(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value SetThreads(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Busy(const Napi::CallbackInfo& info);
};

}  // namespace vlmkit
