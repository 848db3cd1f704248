// kafkajs 2.2.4 computes a negative timeout in its request queue on Node ≥ 23 (kafkajs
// #1751, open), which Node turns into a harmless TimeoutNegativeWarning on every start; keep logs clean.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof warning === 'string'
    ? (typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type)
    : warning.name;
  if (type === 'TimeoutNegativeWarning') return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
