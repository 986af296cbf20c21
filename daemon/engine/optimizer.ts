/**
 * AdamW (decoupled weight decay, fastai's `true_wd`) with a learning rate per layer group and
 * a β1 that may change every step (one-cycle momentum). tfjs's Adam keeps β1 fixed, hence this.
 */
import * as tf from '@tensorflow/tfjs';

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
}

export interface AdamWStep {
  /** LR for each variable's group, looked up by the caller's group index. */
  lrs: readonly number[];
  beta1: number;
  weightDecay: number;
}

export class AdamW {
  private readonly slots = new Map<string, Slot>();
  constructor(
    readonly beta2 = 0.99,
    readonly epsilon = 1e-5,
  ) {}

  /** Applies one update; `groups[i]` are the variables trained with `step.lrs[i]`. */
  apply(groups: readonly (readonly tf.Variable[])[], grads: tf.NamedTensorMap, step: AdamWStep): void {
    groups.forEach((vars, gi) => {
      const lr = step.lrs[gi] ?? 0;
      if (lr === 0) return;
      for (const variable of vars) {
        const g = grads[variable.name];
        if (!g) continue;
        let slot = this.slots.get(variable.name);
        if (!slot) {
          slot = { m: zeroVariable(variable), v: zeroVariable(variable), step: 0 };
          this.slots.set(variable.name, slot);
        }
        slot.step += 1;
        const s = slot;
        const b1 = step.beta1;
        const b2 = this.beta2;
        const debias1 = 1 - Math.pow(b1, s.step);
        const debias2 = 1 - Math.pow(b2, s.step);
        tf.tidy(() => {
          const m = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1));
          const v = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(g), 1 - b2));
          const update = tf.div(tf.div(m, debias1), tf.add(tf.sqrt(tf.div(v, debias2)), this.epsilon));
          const decayed = step.weightDecay > 0 ? tf.mul(variable, 1 - lr * step.weightDecay) : variable;
          variable.assign(tf.sub(decayed, tf.mul(update, lr)));
          s.m.assign(m);
          s.v.assign(v);
        });
      }
    });
  }

  reset(): void {
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.slots.clear();
  }
}

function zeroVariable(like: tf.Tensor): tf.Variable {
  // tf.variable keeps its own copy; the initial zeros would otherwise leak.
  const zeros = tf.zerosLike(like);
  const variable = tf.variable(zeros, false);
  zeros.dispose();
  return variable;
}
