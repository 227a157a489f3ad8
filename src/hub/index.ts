export {
  cachedFile,
  isCached,
  isCommitHash,
  isRepoId,
  repoFolderName,
  snapshotPath,
} from "./cache.js";
export {
  type DownloadedFile,
  type DownloadFileOptions,
  downloadFile,
  type FileMetadata,
  fetchFileMetadata,
  resolveUrl,
} from "./download.js";
export {
  externalDataName,
  isOnnxDtype,
  ONNX_DTYPES,
  type OnnxDtype,
  onnxFileName,
  parseOnnxDtype,
} from "./dtypes.js";
export {
  type FileSpec,
  findModel,
  getModel,
  type LlmDims,
  type LlmEntry,
  listModels,
  MODELS,
  type ModelEntry,
  type ModelFileOptions,
  modelFiles,
  type VisionEncoderDims,
  type VisionEncoderEntry,
} from "./registry.js";
export { type HubOptions, resolveHubSettings } from "./settings.js";
export {
  type ResolveModelDirOptions,
  resolveModelDir,
  type Snapshot,
  type SnapshotDownloadOptions,
  snapshotDownload,
} from "./snapshot.js";
