#include "context.h"

#include <climits>
#include <cmath>
#include <map>
#include <string>

#include "common.h"

namespace vlmkit {

Napi::FunctionReference Context::constructor;

ContextHandle::~ContextHandle() {
  // Runs on the JS thread: the last reference is dropped by dispose(), by garbage collection, or by
  // the settle of the decode that outlived dispose(). The decode thread is idle by then; join it
  // before freeing what it used.
  if (decodeThread) decodeThread->Stop();
  if (ctx != nullptr) Llama().llama_free(ctx);
  if (threadpool != nullptr) threadpoolFree(threadpool);
}

namespace {

std::string Str(int64_t v) { return std::to_string(v); }

/**
 * A persistent ggml CPU threadpool of `threads` threads attached to `h.ctx`, whose workers spin for
 * new work at polling level `poll` (0–100) before sleeping. Its functions live in the CPU backend
 * module, reached through the backend registry. Returns false (nothing attached) without a CPU backend.
 */
bool AttachThreadpool(ContextHandle& h, int32_t threads, uint32_t poll) {
  const LlamaApi& api = Llama();
  ggml_backend_dev_t cpu = api.ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (cpu == nullptr) return false;
  ggml_backend_reg_t reg = api.ggml_backend_dev_backend_reg(cpu);
  auto* create = reinterpret_cast<ggml_threadpool_t (*)(ggml_threadpool_params*)>(
      api.ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new"));
  auto* destroy = reinterpret_cast<void (*)(ggml_threadpool_t)>(
      api.ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free"));
  if (create == nullptr || destroy == nullptr) return false;
  ggml_threadpool_params params = api.ggml_threadpool_params_default(threads);
  params.poll = poll;
  ggml_threadpool_t pool = create(&params);
  if (pool == nullptr) return false;
  api.llama_attach_threadpool(h.ctx, pool, pool);
  h.threadpool = pool;
  h.threadpoolFree = destroy;
  return true;
}

/** One batch, copied out of the JS buffers so they may change while the decode runs. */
struct DecodeRequest {
  std::vector<llama_token> tokens;
  std::vector<float> embd;
  std::vector<llama_pos> pos;
  std::vector<llama_seq_id> seq;
  std::vector<int32_t> nSeqId;
  std::vector<llama_seq_id*> seqPtr;
  std::vector<int8_t> logits;
  bool causal = true;

  llama_batch Batch() {
    const size_t n = pos.size();
    nSeqId.assign(n, 1);
    seqPtr.resize(n);
    for (size_t i = 0; i < n; i++) seqPtr[i] = &seq[i];
    llama_batch batch{};
    batch.n_tokens = static_cast<int32_t>(n);
    batch.token = tokens.empty() ? nullptr : tokens.data();
    batch.embd = embd.empty() ? nullptr : embd.data();
    batch.pos = pos.data();
    batch.n_seq_id = nSeqId.data();
    batch.seq_id = seqPtr.data();
    batch.logits = logits.data();
    return batch;
  }
};

/** One decode on its way through the context's decode thread: the batch in, the status out. */
struct DecodeJob {
  std::shared_ptr<ContextHandle> handle;  // released on the JS thread only
  DecodeRequest request;
  Napi::Promise::Deferred deferred;
  int32_t status = 0;
  std::string what;

  DecodeJob(Napi::Env env, std::shared_ptr<ContextHandle> h, DecodeRequest r)
      : handle(std::move(h)), request(std::move(r)), deferred(Napi::Promise::Deferred::New(env)) {}

  /** On the decode thread. */
  void Run() {
    const LlamaApi& api = Llama();
    llama_context* ctx = handle->ctx;
    llama_batch batch = request.Batch();
    try {
      // Causal mode is a context setting in llama.cpp; set it for this batch only.
      api.llama_set_causal_attn(ctx, request.causal);
      status = api.llama_decode(ctx, batch);
      // Finish the computation (and output copies) here, off the JS thread, before the result is used.
      if (status == 0) api.llama_synchronize(ctx);
      api.llama_set_causal_attn(ctx, true);
    } catch (const std::exception& e) {
      api.llama_set_causal_attn(ctx, true);
      status = INT32_MIN;
      what = e.what();
    }
  }

  /** On the JS thread; `ran` is false when the context stopped before this decode started. */
  void Settle(Napi::Env env, bool ran) {
    handle->busy = false;
    if (env == nullptr) return;  // the environment is shutting down: nobody awaits the promise
    const int32_t n = static_cast<int32_t>(request.pos.size());
    if (!ran) {
      deferred.Reject(CodedError(env, "DISPOSED", "the context was disposed before this decode started").Value());
    } else if (status == 0) {
      for (int32_t i = 0; i < n; i++)
        if (request.logits[i] != 0) handle->outputRows.push_back(i);
      deferred.Resolve(env.Undefined());
    } else if (status == 1) {
      deferred.Reject(CodedError(env, "CONTEXT_OVERFLOW",
                                 "the KV cache has no room for a batch of " + Str(n) + " rows (n_ctx = " +
                                     Str(handle->nCtx) + "): remove sequences or use a larger contextSize")
                          .Value());
    } else if (status == 2) {
      deferred.Reject(CodedError(env, "ABORTED",
                                 "the decode was aborted; rows of ubatches already computed stay in the KV cache "
                                 "(check seqPosMax)")
                          .Value());
    } else if (status == -1) {
      deferred.Reject(
          CodedError(env, "INVALID_ARGUMENT", "llama.cpp rejected the batch of " + Str(n) + " rows (see its log)")
              .Value());
    } else {
      deferred.Reject(CodedError(env, "NATIVE",
                                 "llama_decode failed with status " + Str(status) +
                                     (what.empty() ? "" : ": " + what) +
                                     "; rows already processed stay in the KV cache (check seqPosMax)")
                          .Value());
    }
  }
};

}  // namespace

Napi::Function Context::Init(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "NativeContext",
                                  {
                                      InstanceMethod("info", &Context::Info),
                                      InstanceMethod("decode", &Context::Decode),
                                      InstanceMethod("logits", &Context::Logits),
                                      InstanceMethod("seqRemove", &Context::SeqRemove),
                                      InstanceMethod("seqCopy", &Context::SeqCopy),
                                      InstanceMethod("seqKeep", &Context::SeqKeep),
                                      InstanceMethod("seqPosMin", &Context::SeqPosMin),
                                      InstanceMethod("seqPosMax", &Context::SeqPosMax),
                                      InstanceMethod("clear", &Context::Clear),
                                      InstanceMethod("setThreads", &Context::SetThreads),
                                      InstanceMethod("abort", &Context::Abort),
                                      InstanceMethod("dispose", &Context::Dispose),
                                      InstanceAccessor("disposed", &Context::Disposed, nullptr),
                                      InstanceAccessor("busy", &Context::Busy, nullptr),
                                  });
  constructor = Napi::Persistent(fn);
  return fn;
}

// new NativeContext(model, {contextSize, batchSize, ubatchSize, sequences, threads, flashAttention, kvUnified})
// All fields are required here: defaults are policy and live in the TypeScript wrapper.
Context::Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
  Napi::Env env = info.Env();
  std::shared_ptr<ModelHandle> model = Model::HandleOf(env, info[0], "model");
  const Napi::Object o = ToObject(env, info[1], "options");
  const uint32_t nCtx = static_cast<uint32_t>(ToInt(env, o.Get("contextSize"), "options.contextSize", 1, 1 << 24));
  const uint32_t nBatch = static_cast<uint32_t>(ToInt(env, o.Get("batchSize"), "options.batchSize", 1, 1 << 24));
  const uint32_t nUbatch = static_cast<uint32_t>(ToInt(env, o.Get("ubatchSize"), "options.ubatchSize", 1, nBatch));
  const uint32_t nSeq = static_cast<uint32_t>(ToInt(env, o.Get("sequences"), "options.sequences", 1, 256));
  const int32_t threads = static_cast<int32_t>(ToInt(env, o.Get("threads"), "options.threads", 1, 1024));
  const bool kvUnified = ToBool(env, o.Get("kvUnified"), "options.kvUnified");
  // -1: no persistent threadpool (ggml starts and joins its threads for every graph).
  const int32_t poll = static_cast<int32_t>(ToInt(env, o.Get("threadpoolPoll"), "options.threadpoolPoll", -1, 100));
  const std::string fa = ToString(env, o.Get("flashAttention"), "options.flashAttention");
  llama_flash_attn_type faType;
  if (fa == "auto") faType = LLAMA_FLASH_ATTN_TYPE_AUTO;
  else if (fa == "on") faType = LLAMA_FLASH_ATTN_TYPE_ENABLED;
  else if (fa == "off") faType = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  else ThrowInvalid(env, "options.flashAttention must be \"auto\", \"on\" or \"off\", got \"" + fa + "\"");

  const LlamaApi& api = Llama();
  auto params = api.llama_context_default_params();
  params.n_ctx = nCtx;
  params.n_batch = nBatch;
  params.n_ubatch = nUbatch;
  params.n_seq_max = nSeq;
  params.n_threads = threads;
  params.n_threads_batch = threads;
  params.flash_attn_type = faType;
  params.kv_unified = kvUnified;
  llama_context* ctx = api.llama_init_from_model(model->model, params);
  if (ctx == nullptr)
    Throw(env, "NATIVE", "llama.cpp could not create a context with contextSize " + Str(nCtx) + ", sequences " +
                             Str(nSeq) + " (out of memory? see the llama.cpp log)");
  auto h = std::make_shared<ContextHandle>();
  h->model = std::move(model);
  h->ctx = ctx;
  h->memory = api.llama_get_memory(ctx);
  // llama.cpp rounds n_ctx up (to 256) and may clamp the batch sizes: keep what it actually uses.
  h->nCtx = api.llama_n_ctx(ctx);
  h->nCtxSeq = api.llama_n_ctx_seq(ctx);
  h->nBatch = api.llama_n_batch(ctx);
  h->nUbatch = api.llama_n_ubatch(ctx);
  h->nSeqMax = api.llama_n_seq_max(ctx);
  h->kvUnified = kvUnified;
  h->maxThreads = threads;
  // Checked by ggml between graph nodes (CPU backend): lets abort() stop a long prefill.
  api.llama_set_abort_callback(
      ctx, [](void* data) { return static_cast<std::atomic<bool>*>(data)->load(); }, &h->abortRequested);
  if (h->memory == nullptr) Throw(env, "MODEL_INCOMPATIBLE", "the model has no KV cache (encoder-only?)");
  if (poll >= 0 && threads > 1) AttachThreadpool(*h, threads, static_cast<uint32_t>(poll));
  h->decodeThread = std::make_unique<DecodeThread>(env);
  handle_ = std::move(h);
}

ContextHandle& Context::Idle(Napi::Env env) const {
  if (!handle_) Throw(env, "DISPOSED", "the context has been disposed");
  if (handle_->busy)
    Throw(env, "BUSY", "a decode is running on this context; await it before using the context again");
  return *handle_;
}

std::shared_ptr<ContextHandle> Context::IdleHandleOf(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor.Value()))
    ThrowInvalid(env, std::string(name) + " must be a NativeContext, got " + Describe(value));
  Context* context = Napi::ObjectWrap<Context>::Unwrap(value.As<Napi::Object>());
  context->Idle(env);
  return context->handle_;
}

void Context::CheckOutputRow(Napi::Env env, const ContextHandle& h, const Napi::Value& value) {
  const int64_t row = ToInt(env, value, "row", 0, INT32_MAX);
  for (int32_t r : h.outputRows)
    if (r == row) return;
  std::string rows;
  for (size_t i = 0; i < h.outputRows.size() && i < 16; i++) rows += (i ? ", " : "") + Str(h.outputRows[i]);
  if (h.outputRows.size() > 16) rows += ", …";
  ThrowInvalid(env, "row " + Str(row) + " has no logits: the last decode produced logits for rows [" + rows + "]");
}

llama_seq_id Context::SeqId(Napi::Env env, const Napi::Value& value, const char* name, bool allowAny) const {
  return static_cast<llama_seq_id>(ToInt(env, value, name, allowAny ? -1 : 0, handle_->nSeqMax - 1));
}

Napi::Value Context::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handle_) Throw(env, "DISPOSED", "the context has been disposed");
  const ContextHandle& h = *handle_;
  Napi::Object out = Napi::Object::New(env);
  out.Set("contextSize", h.nCtx);
  out.Set("sequenceContextSize", h.nCtxSeq);
  out.Set("batchSize", h.nBatch);
  out.Set("ubatchSize", h.nUbatch);
  out.Set("sequences", h.nSeqMax);
  out.Set("kvUnified", h.kvUnified);
  out.Set("threads", Llama().llama_n_threads(h.ctx));
  out.Set("threadpool", h.threadpool != nullptr);
  return out;
}

// decode({tokens?: Int32Array, embeddings?: Float32Array, positions: Int32Array, seqIds: Int32Array,
//         logits: Uint8Array, causal: boolean}) → Promise<void>
// Every check llama.cpp would make with GGML_ASSERT (process abort) is made here first.
Napi::Value Context::Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Idle(env);
  // Reading the batch may run JS (getters) that disposes this context: hold the handle alive and check
  // again below, before anything is queued.
  const std::shared_ptr<ContextHandle> keep = handle_;
  ContextHandle& h = *keep;
  const ModelHandle& m = *h.model;
  const Napi::Object b = ToObject(env, info[0], "batch");
  // Every property is read (running any getters) before a typed array's data is taken: a getter could
  // otherwise detach an array whose pointer was already taken, leaving it pointing at freed memory.
  const Napi::Value tokensValue = b.Get("tokens");
  const Napi::Value embdValue = b.Get("embeddings");
  const Napi::Value positionsValue = b.Get("positions");
  const Napi::Value seqIdsValue = b.Get("seqIds");
  const Napi::Value logitsValue = b.Get("logits");
  const Napi::Value causalValue = b.Get("causal");
  if (tokensValue.IsUndefined() == embdValue.IsUndefined())
    ThrowInvalid(env, "batch must have exactly one of tokens (Int32Array) or embeddings (Float32Array)");

  DecodeRequest req;
  size_t n = 0;
  if (!tokensValue.IsUndefined()) {
    const Napi::Int32Array tokens = ToTypedArray<int32_t>(env, tokensValue, "batch.tokens", "an Int32Array");
    n = tokens.ElementLength();
    req.tokens.assign(tokens.Data(), tokens.Data() + n);
    for (size_t i = 0; i < n; i++) {
      if (req.tokens[i] < 0 || req.tokens[i] >= m.nVocab)
        ThrowInvalid(env, "batch.tokens[" + Str(i) + "] = " + Str(req.tokens[i]) + " is not a token id in [0, " +
                              Str(m.nVocab) + ")");
    }
  } else {
    const Napi::Float32Array embd = ToTypedArray<float>(env, embdValue, "batch.embeddings", "a Float32Array");
    const size_t len = embd.ElementLength();
    if (len % static_cast<size_t>(m.nEmbdInp) != 0)
      Throw(env, "SHAPE_MISMATCH", "batch.embeddings has " + Str(len) + " values, not a multiple of n_embd = " +
                                       Str(m.nEmbdInp) + " (expected [n, " + Str(m.nEmbdInp) + "] row-major)");
    n = len / static_cast<size_t>(m.nEmbdInp);
    req.embd.assign(embd.Data(), embd.Data() + len);
    for (size_t i = 0; i < len; i++) {
      if (!std::isfinite(req.embd[i]))
        ThrowInvalid(env, "batch.embeddings[" + Str(i) + "] (row " + Str(i / m.nEmbdInp) + ") is not finite");
    }
  }
  if (n == 0) ThrowInvalid(env, "batch is empty: expected at least one row");
  if (n > h.nBatch)
    ThrowInvalid(env, "batch has " + Str(n) + " rows, more than the context's batchSize " + Str(h.nBatch) +
                          ": split it into several decodes");

  const Napi::Int32Array positions = ToTypedArray<int32_t>(env, positionsValue, "batch.positions", "an Int32Array");
  const Napi::Int32Array seqIds = ToTypedArray<int32_t>(env, seqIdsValue, "batch.seqIds", "an Int32Array");
  const Napi::Uint8Array logits = ToTypedArray<uint8_t>(env, logitsValue, "batch.logits", "a Uint8Array");
  if (positions.ElementLength() != n || seqIds.ElementLength() != n || logits.ElementLength() != n)
    Throw(env, "SHAPE_MISMATCH",
          "batch has " + Str(n) + " rows but positions, seqIds and logits have " + Str(positions.ElementLength()) +
              ", " + Str(seqIds.ElementLength()) + " and " + Str(logits.ElementLength()) + " entries");
  req.causal = causalValue.IsUndefined() ? true : ToBool(env, causalValue, "batch.causal");
  if (!req.causal && n > h.nUbatch)
    ThrowInvalid(env, "a non-causal batch of " + Str(n) + " rows does not fit ubatchSize " + Str(h.nUbatch) +
                          ": llama.cpp attends within one ubatch only; create the context with ubatchSize >= " +
                          Str(n));

  req.pos.assign(positions.Data(), positions.Data() + n);
  req.seq.assign(seqIds.Data(), seqIds.Data() + n);
  req.logits.resize(n);
  std::map<llama_seq_id, llama_pos> next;  // next expected position per sequence in this batch
  for (size_t i = 0; i < n; i++) {
    const llama_seq_id s = req.seq[i];
    const llama_pos p = req.pos[i];
    req.logits[i] = logits.Data()[i] != 0 ? 1 : 0;
    if (s < 0 || static_cast<uint32_t>(s) >= h.nSeqMax)
      ThrowInvalid(env, "batch.seqIds[" + Str(i) + "] = " + Str(s) + " is not a sequence id in [0, " +
                            Str(h.nSeqMax) + ")");
    if (p < 0) ThrowInvalid(env, "batch.positions[" + Str(i) + "] = " + Str(p) + " is negative");
    if (static_cast<uint32_t>(p) >= h.nCtxSeq)
      Throw(env, "CONTEXT_OVERFLOW", "batch.positions[" + Str(i) + "] = " + Str(p) + " is beyond the " +
                                         Str(h.nCtxSeq) + " positions a sequence may use in this context");
    auto it = next.find(s);
    if (it == next.end()) {
      // llama.cpp requires each sequence to continue right after what its KV cache holds.
      const llama_pos last = Llama().llama_memory_seq_pos_max(h.memory, s);
      if (last >= 0 && p != last + 1)
        ThrowInvalid(env, "batch.positions[" + Str(i) + "] = " + Str(p) + " for sequence " + Str(s) +
                              " must be " + Str(last + 1) + ": the KV cache holds positions up to " + Str(last));
    } else if (p != it->second) {
      ThrowInvalid(env, "batch.positions[" + Str(i) + "] = " + Str(p) + " for sequence " + Str(s) + " must be " +
                            Str(it->second) + ": positions of one sequence increase by 1 within a batch");
    }
    next[s] = p + 1;
  }

  if (handle_ != keep) Throw(env, "DISPOSED", "the context was disposed while its batch was being read");
  Idle(env);
  h.busy = true;
  h.abortRequested = false;
  h.outputRows.clear();
  auto job = std::make_shared<DecodeJob>(env, keep, std::move(req));
  Napi::Promise promise = job->deferred.Promise();
  h.decodeThread->Post(env, {[job] { job->Run(); }, [job](Napi::Env e, bool ran) {
                              job->Settle(e, ran);
                              job->handle.reset();  // may free the context: on the JS thread
                            }});
  return promise;
}

// logits(row) → Float32Array [n_vocab], a copy of the logits of batch row `row` of the last decode.
Napi::Value Context::Logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  CheckOutputRow(env, h, info[0]);
  const int32_t row = info[0].As<Napi::Number>().Int32Value();
  const float* src = Llama().llama_get_logits_ith(h.ctx, row);
  if (src == nullptr) Throw(env, "NATIVE", "llama_get_logits_ith(" + Str(row) + ") returned no logits");
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(h.model->nVocab));
  std::copy(src, src + h.model->nVocab, out.Data());
  return out;
}

// Position ranges are [p0, p1); -1 leaves that end open, as in llama.cpp.
static void CheckRange(Napi::Env env, const Napi::Value& v0, const Napi::Value& v1, llama_pos* p0, llama_pos* p1) {
  *p0 = static_cast<llama_pos>(ToInt(env, v0, "p0", -1, INT32_MAX));
  *p1 = static_cast<llama_pos>(ToInt(env, v1, "p1", -1, INT32_MAX));
  if (*p0 >= 0 && *p1 >= 0 && *p1 < *p0)
    ThrowInvalid(env, "position range [" + Str(*p0) + ", " + Str(*p1) + ") is reversed");
}

// seqRemove(seq, p0, p1) → boolean: false when llama.cpp cannot remove part of a sequence (e.g. a
// sliding-window cache); removing a whole sequence always succeeds. seq -1 means every sequence.
Napi::Value Context::SeqRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  const llama_seq_id seq = SeqId(env, info[0], "seq", true);
  llama_pos p0, p1;
  CheckRange(env, info[1], info[2], &p0, &p1);
  return Napi::Boolean::New(env, Llama().llama_memory_seq_rm(h.memory, seq, p0, p1));
}

// seqCopy(src, dst, p0, p1): dst shares src's cells in [p0, p1) (a prefix shared by several requests).
Napi::Value Context::SeqCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  const llama_seq_id src = SeqId(env, info[0], "src", false);
  const llama_seq_id dst = SeqId(env, info[1], "dst", false);
  llama_pos p0, p1;
  CheckRange(env, info[2], info[3], &p0, &p1);
  // With one KV stream per sequence llama.cpp copies whole streams and asserts on a partial range.
  if (!h.kvUnified && h.nSeqMax > 1 && src != dst && (p0 > 0 || p1 >= 0))
    ThrowInvalid(env, "seqCopy of the range [" + Str(p0) + ", " + Str(p1) +
                          ") needs a context created with kvUnified: true; without it only whole sequences "
                          "(p0 = -1, p1 = -1) can be copied");
  Llama().llama_memory_seq_cp(h.memory, src, dst, p0, p1);
  return env.Undefined();
}

Napi::Value Context::SeqKeep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  Llama().llama_memory_seq_keep(h.memory, SeqId(env, info[0], "seq", false));
  return env.Undefined();
}

// seqPosMin/seqPosMax(seq) → the smallest/largest position the KV cache holds for seq, -1 when empty.
Napi::Value Context::SeqPosMin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  return Napi::Number::New(env, Llama().llama_memory_seq_pos_min(h.memory, SeqId(env, info[0], "seq", false)));
}

Napi::Value Context::SeqPosMax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  return Napi::Number::New(env, Llama().llama_memory_seq_pos_max(h.memory, SeqId(env, info[0], "seq", false)));
}

Napi::Value Context::Clear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  Llama().llama_memory_clear(h.memory, true);
  h.outputRows.clear();
  return env.Undefined();
}

// setThreads(n): the compute threads of the next decodes, 1 ≤ n ≤ the threads the context was created
// with (a persistent threadpool runs a graph on its first n workers; the others stay asleep).
Napi::Value Context::SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ContextHandle& h = Idle(env);
  const auto n = static_cast<int32_t>(ToInt(env, info[0], "threads", 1, h.maxThreads));
  Llama().llama_set_n_threads(h.ctx, n, n);
  return env.Undefined();
}

// abort(): stops the running decode at llama.cpp's next check, on backends that take an abort
// callback (the CPU backend does). The decode then rejects with ABORTED. The one call allowed while
// the context is busy.
Napi::Value Context::Abort(const Napi::CallbackInfo& info) {
  if (handle_ && handle_->busy) handle_->abortRequested = true;
  return info.Env().Undefined();
}

// A running decode keeps its own reference: the llama_context is freed when that decode settles.
Napi::Value Context::Dispose(const Napi::CallbackInfo& info) {
  handle_.reset();
  return info.Env().Undefined();
}

Napi::Value Context::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !handle_); }

Napi::Value Context::Busy(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), handle_ != nullptr && handle_->busy);
}

}  // namespace vlmkit
