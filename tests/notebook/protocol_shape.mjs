// Prints the shape of the widget protocol as js/src/protocol.ts declares it, as JSON, for
// tests/notebook/test_protocol.py: every exported type alias and interface, with each field's
// type written out (local aliases expanded, unions sorted) and whether it is optional.
//   node protocol_shape.mjs <js dir> [protocol.ts, default <js dir>/src/protocol.ts]
import { createRequire } from "node:module";
import path from "node:path";
import fs from "node:fs";

const jsDir = path.resolve(process.argv[2]);
const ts = createRequire(path.join(jsDir, "package.json"))("typescript");
const file = path.resolve(process.argv[3] ?? path.join(jsDir, "src", "protocol.ts"));
const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);

const declarations = new Map();
for (const statement of source.statements) {
  if (ts.isTypeAliasDeclaration(statement) || ts.isInterfaceDeclaration(statement)) {
    declarations.set(statement.name.text, statement);
  }
}

function fields(members) {
  const out = {};
  for (const member of members) {
    if (!ts.isPropertySignature(member)) throw new Error(`unexpected member ${member.getText()}`);
    out[member.name.getText()] = { type: typeText(member.type), optional: member.questionToken !== undefined };
  }
  return out;
}

function typeText(node) {
  switch (node.kind) {
    case ts.SyntaxKind.NumberKeyword:
      return "number";
    case ts.SyntaxKind.StringKeyword:
      return "string";
    case ts.SyntaxKind.BooleanKeyword:
      return "boolean";
    case ts.SyntaxKind.UnknownKeyword:
      return "unknown";
  }
  if (ts.isLiteralTypeNode(node)) {
    if (node.literal.kind === ts.SyntaxKind.NullKeyword) return "null";
    if (ts.isStringLiteral(node.literal)) return JSON.stringify(node.literal.text);
  }
  if (ts.isUnionTypeNode(node)) {
    return [...new Set(node.types.flatMap((t) => typeText(t).split(" | ")))].sort().join(" | ");
  }
  if (ts.isArrayTypeNode(node)) return `${typeText(node.elementType)}[]`;
  if (ts.isTypeReferenceNode(node)) {
    const name = node.typeName.getText();
    const local = declarations.get(name);
    if (local && ts.isTypeAliasDeclaration(local)) return typeText(local.type);
    if (local) return name;
    const args = (node.typeArguments ?? []).map(typeText);
    return args.length ? `${name}<${args.join(", ")}>` : name;
  }
  throw new Error(`protocol_shape.mjs does not know the type ${node.getText()}`);
}

function shape(declaration) {
  if (ts.isInterfaceDeclaration(declaration)) return { fields: fields(declaration.members) };
  const type = declaration.type;
  const members = ts.isUnionTypeNode(type) ? type.types : [type];
  if (members.every((m) => ts.isTypeLiteralNode(m))) return { messages: members.map((m) => fields(m.members)) };
  if (members.every((m) => ts.isTypeReferenceNode(m) && declarations.has(m.typeName.getText()))) {
    return { refs: members.map((m) => m.typeName.getText()) };
  }
  return { type: typeText(type) };
}

const out = {};
for (const [name, declaration] of declarations) out[name] = shape(declaration);
console.log(JSON.stringify(out));
