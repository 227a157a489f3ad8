/**
 * Elementwise rules. Binary ops broadcast, so each operand's gradient is summed back to its shape;
 * unary rules reuse the forward output where the derivative is a function of it (Exp, Tanh, Sigmoid,
 * Sqrt, Reciprocal) instead of recomputing.
 */
import type { Value } from "../types.js";
import { type VjpRule, when } from "./context.js";

const FLOAT = new Set(["float32", "float16", "float64"]);

const add: VjpRule = (ctx, node, [dy], wants) => {
  const [a, b] = node.inputs as Value[];
  return [when(wants[0], () => ctx.unbroadcast(dy!, a)), when(wants[1], () => ctx.unbroadcast(dy!, b))];
};

const sub: VjpRule = (ctx, node, [dy], wants) => {
  const [a, b] = node.inputs as Value[];
  // Negate after summing: the reduced tensor is the smaller one.
  return [
    when(wants[0], () => ctx.unbroadcast(dy!, a)),
    when(wants[1], () => ctx.g.neg(ctx.unbroadcast(dy!, b))),
  ];
};

const mul: VjpRule = (ctx, node, [dy], wants) => {
  const [a, b] = node.inputs as Value[];
  return [
    when(wants[0], () => ctx.unbroadcast(ctx.g.mul(dy!, b), a)),
    when(wants[1], () => ctx.unbroadcast(ctx.g.mul(dy!, a), b)),
  ];
};

// y = a / b: da = dy / b, db = -dy · y / b.
const div: VjpRule = (ctx, node, [dy], wants) => {
  const [a, b] = node.inputs as Value[];
  const y = node.outputs[0];
  const g = ctx.g;
  const dyOverB = wants[0] || wants[1] ? g.div(dy!, b) : null;
  return [
    when(wants[0], () => ctx.unbroadcast(dyOverB!, a)),
    when(wants[1], () => g.neg(ctx.unbroadcast(g.mul(dyOverB!, y), b))),
  ];
};

// y = a^b: da = dy · b · a^(b−1); db = dy · y · ln a (only defined for a > 0).
const pow: VjpRule = (ctx, node, [dy], wants) => {
  const [a, b] = node.inputs as Value[];
  const g = ctx.g;
  const da = () => {
    const k = ctx.constValues(b);
    let local: Value;
    if (k && k.length === 1) {
      const e = k[0];
      if (e === 1) local = dy!;
      else if (e === 2) local = g.mul(dy!, g.mul(a, 2));
      else local = g.mul(dy!, g.mul(g.pow(a, e - 1), e));
    } else {
      local = g.mul(dy!, g.mul(g.pow(a, g.sub(b, 1)), b));
    }
    return ctx.unbroadcast(local, a);
  };
  return [
    when(wants[0], da),
    when(wants[1], () => ctx.unbroadcast(g.mul(g.mul(dy!, node.outputs[0]), g.log(a)), b)),
  ];
};

/** Rules of the form dx = dy ⊙ f(x, y). */
function unary(local: (ctx: Parameters<VjpRule>[0], x: Value, y: Value, dy: Value) => Value): VjpRule {
  return (ctx, node, [dy], wants) => [
    when(wants[0], () => local(ctx, node.inputs[0]!, node.outputs[0], dy!)),
  ];
}

const neg = unary(({ g }, _x, _y, dy) => g.neg(dy));
const identity = unary((_ctx, _x, _y, dy) => dy);
const exp = unary(({ g }, _x, y, dy) => g.mul(dy, y));
const log = unary(({ g }, x, _y, dy) => g.div(dy, x));
// d√x = 1 / (2√x)
const sqrt = unary(({ g }, _x, y, dy) => g.div(g.mul(dy, 0.5), y));
// d(1/x) = −1/x² = −y²
const reciprocal = unary(({ g }, _x, y, dy) => g.neg(g.mul(dy, g.mul(y, y))));
const tanh = unary(({ g }, _x, y, dy) => g.mul(dy, g.sub(1, g.mul(y, y))));
const sigmoid = unary(({ g }, _x, y, dy) => g.mul(dy, g.mul(y, g.sub(1, y))));
const relu = unary(({ g }, x, _y, dy) => g.where(g.greater(x, 0), dy, 0));

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * Gelu. tanh form, written with ½(1 + tanh u) = σ(2u) to save passes over the tensor:
 * y = x·s, s = σ(2u), 2u = x·(2a + 2b·x²) with a = √(2/π), b = 0.044715·a, so
 * y' = s·(1 + x·(1 − s)·(2a + 6b·x²)). erf form: y' = Φ(x) + x·φ(x).
 */
const gelu: VjpRule = (ctx, node, [dy], wants) => {
  const g = ctx.g;
  const x = node.inputs[0]!;
  const approx = node.attrs.approximate;
  const tanhForm = approx?.type === "string" && approx.value === "tanh";
  const slope = () => {
    if (tanhForm) {
      const a = SQRT_2_OVER_PI;
      const b = GELU_C * SQRT_2_OVER_PI;
      const x2 = g.mul(x, x);
      const s = g.sigmoid(g.mul(x, g.add(g.mul(x2, 2 * b), 2 * a)));
      const d2u = g.add(g.mul(x2, 6 * b), 2 * a);
      return g.mul(s, g.add(g.mul(g.sub(1, s), g.mul(x, d2u)), 1));
    }
    const erfX = g.node("Erf", [g.mul(x, Math.SQRT1_2)], [{ dtype: x.dtype, shape: x.shape }])[0];
    const cdf = g.mul(g.add(erfX, 1), 0.5);
    const pdf = g.mul(g.exp(g.mul(g.mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return g.add(cdf, g.mul(x, pdf));
  };
  return [when(wants[0], () => g.mul(dy!, slope()))];
};

// d erf(x) = 2/√π · exp(−x²)
const erf = unary(({ g }, x, _y, dy) => g.mul(dy, g.mul(g.exp(g.neg(g.mul(x, x))), 2 / Math.sqrt(Math.PI))));

const cast: VjpRule = (ctx, node, [dy], wants) => {
  const x = node.inputs[0]!;
  if (!FLOAT.has(x.dtype)) return [null];
  return [when(wants[0], () => ctx.g.cast(dy!, x.dtype))];
};

/** Where(c, a, b): the gradient goes to the branch each element was taken from; none to c. */
const where: VjpRule = (ctx, node, [dy], wants) => {
  const [c, a, b] = node.inputs as Value[];
  const g = ctx.g;
  return [
    null,
    when(wants[1], () => ctx.unbroadcast(g.where(c, dy!, 0), a)),
    when(wants[2], () => ctx.unbroadcast(g.where(c, 0, dy!), b)),
  ];
};

export const elementwiseRules: Record<string, VjpRule> = {
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Pow: pow,
  Neg: neg,
  Identity: identity,
  Exp: exp,
  Log: log,
  Sqrt: sqrt,
  Reciprocal: reciprocal,
  Tanh: tanh,
  Sigmoid: sigmoid,
  Relu: relu,
  Gelu: gelu,
  Erf: erf,
  Cast: cast,
  Where: where,
};
