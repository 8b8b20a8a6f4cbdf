import { describe, expect, it } from 'vitest';
import { resolveInputSchema } from '../../src/commands/input-schema.js';
import { compileJsonSchema } from '../../src/commands/json-schema.js';
import { isTallyError } from '../../src/errors.js';

const compile = (schema: unknown) => compileJsonSchema(schema, (m) => new Error(m));
/** `path: message` for each issue, the path as a list of keys joined by '/'. */
const check = (schema: unknown, value: unknown) =>
  compile(schema)(value, 100).map((i) => `${i.path.map(String).join('/')}: ${i.message}`);

describe('commands: the JSON Schema subset for command inputs', () => {
  it('type, integer included; NaN, Infinity and undefined are no JSON type', () => {
    expect(check({ type: 'integer' }, 1)).toEqual([]);
    expect(check({ type: 'integer' }, 1.0)).toEqual([]);
    expect(check({ type: 'integer' }, 1.5)).toEqual([': must be an integer']);
    expect(check({ type: 'integer' }, '1')).toEqual([': must be an integer']);
    expect(check({ type: 'number' }, Number.NaN)).toEqual([': must be a number']);
    expect(check({ type: 'number' }, Number.POSITIVE_INFINITY)).toEqual([': must be a number']);
    expect(check({ type: 'number' }, 2.5)).toEqual([]);
    expect(check({ type: ['string', 'null'] }, null)).toEqual([]);
    expect(check({ type: ['string', 'null'] }, 3)).toEqual([': must be one of the types string, null']);
    expect(check({ type: 'object' }, [])).toEqual([': must be an object']);
    expect(check({ type: 'array' }, {})).toEqual([': must be an array']);
    expect(check({ type: 'boolean' }, 0)).toEqual([': must be a boolean']);
    expect(check({ type: 'object' }, undefined)).toEqual([': must be an object']);
  });

  it('enum and const compare JSON values', () => {
    expect(check({ enum: ['mug', 'hoodie'] }, 'mug')).toEqual([]);
    expect(check({ enum: ['mug', 'hoodie'] }, '')).toEqual([': must be one of "mug", "hoodie"']);
    expect(check({ enum: [{ a: [1, 2] }] }, { a: [1, 2] })).toEqual([]);
    expect(check({ enum: [{ a: [1, 2] }] }, { a: [2, 1] })).toHaveLength(1);
    expect(check({ const: 1 }, 1.0)).toEqual([]);
    expect(check({ const: { a: 1 } }, { a: 1, b: 2 })).toEqual([': must be {"a":1}']);
  });

  it('minimum, maximum and the exclusive bounds', () => {
    const qty = { type: 'integer', minimum: 1, maximum: 10 };
    expect([-50, 0, -5, 11, 2147483648].map((q) => check(qty, q))).toEqual([
      [': must be >= 1'],
      [': must be >= 1'],
      [': must be >= 1'],
      [': must be <= 10'],
      [': must be <= 10'],
    ]);
    expect([1, 10].map((q) => check(qty, q))).toEqual([[], []]);
    const open = { exclusiveMinimum: 0, exclusiveMaximum: 1 };
    expect([0, 0.5, 1].map((q) => check(open, q))).toEqual([[': must be > 0'], [], [': must be < 1']]);
    expect(check(open, 'not a number')).toEqual([]); // number keywords apply to numbers only
  });

  it('string lengths count code points; pattern is unanchored; a too-long string skips the pattern', () => {
    expect(check({ minLength: 2 }, '😀')).toEqual([': must have at least 2 characters']);
    expect(check({ maxLength: 1 }, '😀')).toEqual([]);
    expect(check({ maxLength: 2 }, 'abc')).toEqual([': must have at most 2 characters']);
    expect(check({ pattern: 'b' }, 'abc')).toEqual([]);
    expect(check({ pattern: '^b' }, 'abc')).toEqual([': must match the pattern ^b']);
    expect(check({ pattern: '^a+$', maxLength: 3 }, 'aaaa!')).toEqual([': must have at most 3 characters']);
  });

  it('objects: properties, required, additionalProperties (false or a schema), nested paths', () => {
    const schema = {
      type: 'object',
      required: ['user', 'items'],
      properties: {
        user: { type: 'string' },
        items: {
          type: 'array',
          minItems: 1,
          maxItems: 3,
          items: {
            type: 'object',
            required: ['sku'],
            additionalProperties: false,
            properties: { sku: true },
          },
        },
      },
      additionalProperties: { type: 'number' },
    };
    expect(check(schema, { user: 'u', items: [{ sku: 1 }], score: 3 })).toEqual([]);
    expect(check(schema, { items: [{ x: 1 }, { sku: 2 }], score: 'high' })).toEqual([
      'user: is required',
      'items/0/sku: is required',
      'items/0/x: is not allowed',
      'score: must be a number',
    ]);
    expect(check(schema, { user: 'u', items: [] })).toEqual(['items: must have at least 1 item']);
    expect(check(schema, { user: 'u', items: [{ sku: 1 }, { sku: 1 }, { sku: 1 }, { sku: 1 }] })).toEqual([
      'items: must have at most 3 items',
    ]);
    // A property that is undefined is absent (JSON drops it): required refuses it, nothing else sees it.
    expect(check(schema, { user: undefined, items: [{ sku: 1 }] })).toEqual(['user: is required']);
    expect(check({ properties: { a: false } }, { a: 1 })).toEqual(['a: is not allowed']);
    expect(
      check({ properties: { ['__proto__']: { type: 'string' } } }, JSON.parse('{"__proto__": 1}')),
    ).toEqual(['__proto__: must be a string']);
  });

  it('stops collecting at the limit (a huge bad array costs no more than the first issues)', () => {
    const issues = compile({ items: { type: 'string' } })(
      Array.from({ length: 1_000_000 }, () => 0),
      51,
    );
    expect(issues).toHaveLength(51);
  });

  it('refuses at declaration what it would not check: unknown keywords, bad values, non-schemas', () => {
    const refused = (schema: unknown) => {
      try {
        resolveInputSchema('c', schema);
        return 'accepted';
      } catch (err) {
        return isTallyError(err, 'INVALID_COMMAND') ? err.message : `other: ${String(err)}`;
      }
    };
    expect(refused({ type: 'string', format: 'email' })).toMatch(/keyword "format" at # is not supported/);
    expect(refused({ properties: { a: { default: 1 } } })).toMatch(/"default" at #\/properties\/a/);
    expect(refused({ $ref: '#/x' })).toMatch(/"\$ref"/);
    expect(refused({ oneOf: [] })).toMatch(/"oneOf"/);
    expect(refused({ items: [{ type: 'string' }] })).toMatch(/tuple form/);
    expect(refused({ type: 'any' })).toMatch(/type at # must be one or more of/);
    expect(refused({ type: [] })).toMatch(/type at #/);
    expect(refused({ minimum: '1' })).toMatch(/minimum at # must be a number/);
    expect(refused({ exclusiveMinimum: true })).toMatch(/exclusiveMinimum at # must be a number/);
    expect(refused({ maxLength: -1 })).toMatch(/maxLength at # must be a non-negative integer/);
    expect(refused({ minItems: 1.5 })).toMatch(/minItems/);
    expect(refused({ pattern: '(' })).toMatch(/pattern at # must be a valid regular expression/);
    expect(refused({ required: 'user' })).toMatch(/required at #/);
    expect(refused({ enum: [] })).toMatch(/enum at # must be a non-empty array/);
    expect(refused({ properties: { a: 3 } })).toMatch(/#\/properties\/a must be an object or a boolean/);
    expect(refused('string')).toMatch(/must be a Standard Schema validator .* or a JSON Schema object/);
    expect(refused(null)).toMatch(/must be a Standard Schema validator/);
    expect(refused({ '~standard': { version: 2 } })).toMatch(/~standard.version 1/);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { properties: { a: deep } };
    expect(refused(deep)).toMatch(/nests deeper than 32/);
    const cyclic: Record<string, unknown> = {};
    cyclic.properties = { a: cyclic };
    expect(refused(cyclic)).toMatch(/nests deeper than 32/);
    // Documentation keywords are accepted (and never checked).
    expect(refused({ $schema: 'x', title: 't', description: 'd', $comment: 'c', examples: [1] })).toBe(
      'accepted',
    );
  });
});
