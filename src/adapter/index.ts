export {
  MAX_HEADER_BYTES,
  parseSafetensors,
  readSafetensors,
  type SafetensorsContents,
  type SafetensorsFloatDtype,
  serializeSafetensors,
  writeSafetensors,
} from "../util/safetensors.js";
export {
  adapterWithCard,
  CARD_FILE,
  type LoadAdapterOptions,
  type LoadedAdapter,
  loadAdapter,
  readAdapterCard,
  saveAdapter,
  WEIGHTS_FILE,
} from "./adapter-files.js";
export {
  type AdapterCard,
  type AdapterCardInput,
  AdapterCardSchema,
  buildAdapterCard,
  CARD_FORMAT_VERSION,
  type PartSource,
  PartSourceSchema,
  parseAdapterCard,
  vlmkitVersion,
} from "./card.js";
export {
  type CompatibilityExpectations,
  checkCompatibility,
  type EncoderIdentity,
} from "./compatibility.js";
export {
  ADAPTER_KINDS,
  type Adapter,
  type AdapterKindName,
  adapterFromTensors,
  DEFAULT_FACTOR,
  factorProblem,
  type Grid,
  initAdapter,
  isAdapterKind,
  kindSpec,
  mergedGrid,
  ProjectorAdapter,
  tokensPerImage,
} from "./kinds/index.js";
export { BIAS_NAME, LinearAdapter, type LinearAdapterInitOptions, WEIGHT_NAME } from "./linear-adapter.js";
