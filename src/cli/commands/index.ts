// Each command module exports `register(program)`; list them here in the order `--help` shows them.
export { register as ask } from "./ask.js";
export { register as chat } from "./chat.js";
export { register as classify } from "./classify.js";
export { register as compare } from "./compare.js";
export { register as embed } from "./embed.js";
export { register as eval } from "./eval.js";
export { register as exportCommand } from "./export.js";
export { register as importCommand } from "./import.js";
export { register as models } from "./models.js";
export { register as pull } from "./pull.js";
export { register as run } from "./run.js";
export { register as serve } from "./serve.js";
export { register as shapes } from "./shapes.js";
export { register as tiny } from "./tiny.js";
export { register as train } from "./train.js";
