// Errors and argument checks shared by the addon's classes.
//
// Every error thrown to JavaScript carries a `code` from vlmkit's error hierarchy (src/errors.ts):
// INVALID_ARGUMENT, CONTEXT_OVERFLOW, DISPOSED, BUSY, MODEL_FORMAT, ABORTED, NATIVE. The TypeScript
// wrapper turns them into the matching VlmkitError subclass.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace vlmkit {

inline Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

[[noreturn]] inline void Throw(Napi::Env env, const char* code, const std::string& message) {
  throw CodedError(env, code, message);
}

[[noreturn]] inline void ThrowInvalid(Napi::Env env, const std::string& message) {
  Throw(env, "INVALID_ARGUMENT", message);
}

/** How a JS value is named in messages: its type, or its value for numbers. */
inline std::string Describe(const Napi::Value& value) {
  if (value.IsNumber()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value.As<Napi::Number>().DoubleValue());
    return buf;
  }
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsString()) return "\"" + value.As<Napi::String>().Utf8Value() + "\"";
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsTypedArray()) return "a typed array of another element type";
  if (value.IsArray()) return "an array";
  if (value.IsFunction()) return "a function";
  return "an object";
}

/** An integer in [min, max]; anything else (NaN, 1.5, "3", out of range) throws INVALID_ARGUMENT. */
inline int64_t ToInt(Napi::Env env, const Napi::Value& value, const std::string& name, int64_t min, int64_t max) {
  if (!value.IsNumber()) ThrowInvalid(env, name + " must be an integer, got " + Describe(value));
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    ThrowInvalid(env, name + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                          "], got " + Describe(value));
  }
  return static_cast<int64_t>(d);
}

inline double ToNumber(Napi::Env env, const Napi::Value& value, const std::string& name, double min, double max) {
  if (!value.IsNumber()) ThrowInvalid(env, name + " must be a number, got " + Describe(value));
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) {
    char buf[160];
    std::snprintf(buf, sizeof buf, " must be a number in [%g, %g], got ", min, max);
    ThrowInvalid(env, name + buf + Describe(value));
  }
  return d;
}

inline bool ToBool(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsBoolean()) ThrowInvalid(env, name + " must be a boolean, got " + Describe(value));
  return value.As<Napi::Boolean>().Value();
}

inline std::string ToString(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsString()) ThrowInvalid(env, name + " must be a string, got " + Describe(value));
  return value.As<Napi::String>().Utf8Value();
}

inline Napi::Object ToObject(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction())
    ThrowInvalid(env, name + " must be an object, got " + Describe(value));
  return value.As<Napi::Object>();
}

template <typename T>
constexpr napi_typedarray_type TypedArrayTypeOf();
template <>
constexpr napi_typedarray_type TypedArrayTypeOf<int32_t>() { return napi_int32_array; }
template <>
constexpr napi_typedarray_type TypedArrayTypeOf<float>() { return napi_float32_array; }
template <>
constexpr napi_typedarray_type TypedArrayTypeOf<uint8_t>() { return napi_uint8_array; }

/** A typed array of exactly element type T; `expected` names it in the message ("an Int32Array"). */
template <typename T>
Napi::TypedArrayOf<T> ToTypedArray(Napi::Env env, const Napi::Value& value, const std::string& name,
                                   const char* expected) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != TypedArrayTypeOf<T>())
    ThrowInvalid(env, name + " must be " + expected + ", got " + Describe(value));
  return value.As<Napi::TypedArrayOf<T>>();
}

}  // namespace vlmkit
