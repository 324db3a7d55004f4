using System.Globalization;
using NeuronInterop.BindingGenerator.Interop;
using NeuronInterop.BindingGenerator.Model;

namespace NeuronInterop.BindingGenerator.Parsing;

/// <summary>Options of one parse.</summary>
/// <param name="SystemIncludes">Folders passed with -I so that stddef.h and stdint.h resolve.</param>
/// <param name="MacroPrefix">Only object-like integer macros with this prefix become constants.</param>
internal sealed record ParseOptions(IReadOnlyList<string> SystemIncludes, string MacroPrefix);

/// <summary>
/// Reads a C header through libclang into a <see cref="HeaderModel"/>: the enums, structs
/// (defined or opaque), integer macros and exported functions declared in the header itself
/// (not in the headers it includes), each with its doc comment.
/// </summary>
internal sealed class HeaderParser
{
    private readonly TranslationUnit _unit;
    private readonly string[] _sourceLines;
    private readonly ParseOptions _options;
    private readonly List<string> _warnings = new();

    private HeaderParser(TranslationUnit unit, string[] sourceLines, ParseOptions options)
    {
        _unit = unit;
        _sourceLines = sourceLines;
        _options = options;
    }

    public static (HeaderModel Model, IReadOnlyList<string> Warnings) Parse(string headerPath, ParseOptions options)
    {
        var arguments = new List<string> { "-x", "c", "-std=c11", "-fparse-all-comments",
            // Only declarations marked with the export macro keep default visibility.
            "-fvisibility=hidden" };
        arguments.AddRange(options.SystemIncludes.Select(folder => "-I" + folder));

        using TranslationUnit unit = TranslationUnit.Parse(headerPath, arguments);
        var diagnostics = unit.Diagnostics();
        foreach (var (_, text) in diagnostics)
            Console.Error.WriteLine(text);
        int errors = diagnostics.Count(d => d.Severity >= CXDiagnosticSeverity.Error);
        if (errors > 0)
        {
            bool missingInclude = diagnostics.Any(d => d.Text.Contains("file not found", StringComparison.Ordinal));
            throw new GeneratorException($"{headerPath}: {errors} parse error(s); see the diagnostics above." +
                (missingInclude ? $" Includes searched first: {string.Join(", ", options.SystemIncludes)}; pass --system-include <folder> with the compiler's stddef.h." : ""));
        }

        var parser = new HeaderParser(unit, File.ReadAllLines(headerPath), options);
        HeaderModel model = parser.Read();
        return (model, parser._warnings);
    }

    private sealed class TagEntry(CXCursor declaration, string tagName, string usr)
    {
        public CXCursor Declaration { get; } = declaration;
        public string TagName { get; } = tagName;
        public string Usr { get; } = usr;
        public string? TypedefName { get; set; }
        public string? TypedefUsr { get; set; }
        public DocComment Doc { get; set; } = DocComment.None;
    }

    private HeaderModel Read()
    {
        var tags = new List<TagEntry>();
        var tagsByUsr = new Dictionary<string, TagEntry>(StringComparer.Ordinal);
        var functions = new List<CXCursor>();
        var constants = new List<ConstantModel>();

        foreach (CXCursor cursor in LibClang.Children(_unit.Cursor))
        {
            if (LibClang.clang_Location_isFromMainFile(LibClang.clang_getCursorLocation(cursor)) == 0)
                continue;

            switch (cursor.Kind)
            {
                case CXCursorKind.StructDecl:
                case CXCursorKind.UnionDecl:
                case CXCursorKind.EnumDecl:
                {
                    string usr = Usr(cursor);
                    if (!tagsByUsr.TryGetValue(usr, out TagEntry? entry))
                    {
                        string name = LibClang.clang_Cursor_isAnonymous(cursor) != 0 ? "" : Spelling(cursor);
                        entry = new TagEntry(cursor, name, usr);
                        tagsByUsr.Add(usr, entry);
                        tags.Add(entry);
                    }
                    if (entry.Doc.IsEmpty)
                        entry.Doc = Doc(cursor);
                    break;
                }

                case CXCursorKind.TypedefDecl:
                {
                    CXType underlying = Unelaborate(LibClang.clang_getTypedefDeclUnderlyingType(cursor));
                    if (underlying.Kind is CXTypeKind.Record or CXTypeKind.Enum
                        && tagsByUsr.TryGetValue(Usr(LibClang.clang_getTypeDeclaration(underlying)), out TagEntry? entry)
                        && entry.TypedefName is null)
                    {
                        entry.TypedefName = Spelling(cursor);
                        entry.TypedefUsr = Usr(cursor);
                        DocComment doc = Doc(cursor);
                        if (!doc.IsEmpty)
                            entry.Doc = doc;
                    }
                    break;
                }

                case CXCursorKind.FunctionDecl:
                    functions.Add(cursor);
                    break;

                case CXCursorKind.MacroDefinition:
                    if (ReadConstant(cursor) is { } constant)
                        constants.Add(constant);
                    break;

                case CXCursorKind.VarDecl:
                    _warnings.Add($"{Location(cursor)}: global variable '{Spelling(cursor)}' is not bound.");
                    break;
            }
        }

        // Name every tag after its typedef where it has one (typedef struct nrn_tensor nrn_tensor).
        var namesByUsr = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (TagEntry entry in tags)
        {
            string name = entry.TypedefName ?? entry.TagName;
            if (name.Length == 0)
                throw new GeneratorException($"{Location(entry.Declaration)}: an anonymous struct or enum needs a typedef name.");
            namesByUsr[entry.Usr] = name;
            if (entry.TypedefUsr is not null)
                namesByUsr[entry.TypedefUsr] = name;
        }
        var duplicate = tags.GroupBy(t => namesByUsr[t.Usr]).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new GeneratorException($"Two types would both be named '{duplicate.Key}' in C#.");

        var mapper = new TypeMapper(namesByUsr);
        var types = tags.Select(entry => ReadType(entry, namesByUsr[entry.Usr], mapper)).ToList();
        var functionModels = ReadFunctions(functions, mapper);
        return new HeaderModel(constants, types, functionModels);
    }

    private TypeModel ReadType(TagEntry entry, string name, TypeMapper mapper)
    {
        CXCursor definition = LibClang.clang_getCursorDefinition(entry.Declaration);
        if (LibClang.clang_Cursor_isNull(definition) != 0)
        {
            if (entry.Declaration.Kind == CXCursorKind.EnumDecl)
                throw new GeneratorException($"{Location(entry.Declaration)}: enum '{name}' is declared but never defined.");
            return new OpaqueStructModel(name, entry.Doc);
        }

        return definition.Kind switch
        {
            CXCursorKind.EnumDecl => ReadEnum(definition, name, entry.Doc),
            CXCursorKind.StructDecl => ReadStruct(definition, name, entry.Doc, mapper),
            _ => throw new GeneratorException($"{Location(definition)}: unions are not supported ('{name}')."),
        };
    }

    private EnumModel ReadEnum(CXCursor definition, string name, DocComment doc)
    {
        CXType integer = LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(definition));
        long size = LibClang.clang_Type_getSizeOf(integer);
        bool unsigned = integer.Kind is CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong
            or CXTypeKind.UShort or CXTypeKind.UChar or CXTypeKind.Char_U;
        // Read as the enum's own signedness: the signed reading of an unsigned value from 2^63 up is negative.
        var members = LibClang.Children(definition)
            .Where(c => c.Kind == CXCursorKind.EnumConstantDecl)
            .Select(c => new EnumMemberModel(Spelling(c),
                unsigned ? LibClang.clang_getEnumConstantDeclUnsignedValue(c) : LibClang.clang_getEnumConstantDeclValue(c), Doc(c)))
            .ToList();

        // A C enum with values that fit in int is an int-sized C# enum, whatever its signedness.
        bool fitsInt = members.All(m => m.Value >= int.MinValue && m.Value <= int.MaxValue);
        string underlying = (size, fitsInt, unsigned) switch
        {
            (4, true, _) => "int",
            (4, false, true) => "uint",
            (8, _, false) => "long",
            (8, _, true) => "ulong",
            _ => throw new GeneratorException($"{Location(definition)}: enum '{name}' has an unsupported {size}-byte integer type."),
        };
        return new EnumModel(name, doc, underlying, members);
    }

    private StructModel ReadStruct(CXCursor definition, string name, DocComment doc, TypeMapper mapper)
    {
        CXType type = LibClang.clang_getCursorType(definition);
        var fields = new List<FieldModel>();
        foreach (CXCursor field in LibClang.Children(definition))
        {
            if (field.Kind != CXCursorKind.FieldDecl)
                continue;
            string fieldName = Spelling(field);
            string where = $"{Location(field)}: field {name}.{fieldName}";
            if (LibClang.clang_Cursor_isBitField(field) != 0)
                throw new GeneratorException($"{where}: bit-fields are not supported.");

            CXType fieldType = LibClang.clang_getCursorType(field);
            long offset = LibClang.clang_Cursor_getOffsetOfField(field) / 8;
            string declaration = TypeMapper.CDeclaration(fieldType, fieldName) + ";";
            // Through typedefs too (a field of type vec2, typedef float vec2[2]); an array of arrays is one
            // buffer of all its elements, as C lays them out. The element keeps its typedef (int64_t), whose
            // width the mapper knows where the type behind it (long) has none.
            if (IsArray(fieldType))
            {
                long length = 1;
                CXType element = fieldType;
                for (; IsArray(element); element = LibClang.clang_getArrayElementType(element))
                {
                    element = UntilArray(element);
                    length = checked(length * LibClang.clang_getArraySize(element));
                }
                string managed = mapper.Map(element, where);
                if (!FixedBufferElementTypes.Contains(managed))
                    throw new GeneratorException($"{where}: an array of '{managed}' cannot be a fixed buffer.");
                fields.Add(new FieldModel(fieldName, managed, checked((int)length), offset, declaration, Doc(field)));
            }
            else
            {
                fields.Add(new FieldModel(fieldName, mapper.Map(fieldType, where), null, offset, declaration, Doc(field)));
            }
        }
        return new StructModel(name, doc, LibClang.clang_Type_getSizeOf(type), LibClang.clang_Type_getAlignOf(type), fields);
    }

    private static bool IsArray(CXType type) => LibClang.clang_getCanonicalType(type).Kind == CXTypeKind.ConstantArray;

    // An array type through the typedefs and elaborations that name it, down to the array itself.
    private static CXType UntilArray(CXType type)
    {
        while (type.Kind != CXTypeKind.ConstantArray)
        {
            type = type.Kind switch
            {
                CXTypeKind.Elaborated => LibClang.clang_Type_getNamedType(type),
                CXTypeKind.Typedef => LibClang.clang_getTypedefDeclUnderlyingType(LibClang.clang_getTypeDeclaration(type)),
                _ => LibClang.clang_getCanonicalType(type),  // anything else that names an array: its canonical form
            };
        }
        return type;
    }

    private static readonly HashSet<string> FixedBufferElementTypes = new(StringComparer.Ordinal)
    {
        "bool", "byte", "sbyte", "short", "ushort", "int", "uint", "long", "ulong", "char", "float", "double",
    };

    private List<FunctionModel> ReadFunctions(List<CXCursor> cursors, TypeMapper mapper)
    {
        var result = new List<FunctionModel>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (CXCursor cursor in cursors)
        {
            string name = Spelling(cursor);
            if (!seen.Add(name))
                continue; // a redeclaration
            if (LibClang.clang_Cursor_getStorageClass(cursor) == CXStorageClass.Static
                || LibClang.clang_getCursorVisibility(cursor) != CXVisibilityKind.Default)
            {
                _warnings.Add($"{Location(cursor)}: function '{name}' is not exported (no export macro); skipped.");
                continue;
            }

            CXType functionType = LibClang.clang_getCursorType(cursor);
            if (functionType.Kind != CXTypeKind.FunctionProto)
                throw new GeneratorException($"{Location(cursor)}: function '{name}' needs a prototype (write (void) for no parameters).");
            if (LibClang.clang_isFunctionTypeVariadic(functionType) != 0)
                throw new GeneratorException($"{Location(cursor)}: variadic function '{name}' cannot be bound.");

            CXType resultType = LibClang.clang_getCursorResultType(cursor);
            var cParameters = new List<string>();
            var parameters = new List<ParameterModel>();
            int count = LibClang.clang_Cursor_getNumArguments(cursor);
            for (int i = 0; i < count; i++)
            {
                CXCursor parameter = LibClang.clang_Cursor_getArgument(cursor, (uint)i);
                string parameterName = Spelling(parameter);
                CXType parameterType = LibClang.clang_getCursorType(parameter);
                cParameters.Add(TypeMapper.CDeclaration(parameterType, parameterName));
                string where = $"{Location(parameter)}: parameter '{parameterName}' of {name}";
                parameters.Add(new ParameterModel(parameterName.Length > 0 ? parameterName : $"arg{i}",
                    mapper.Map(parameterType, where)));
            }

            string cSignature = $"{TypeMapper.CDeclaration(resultType, name)}({(count == 0 ? "void" : string.Join(", ", cParameters))});";
            string managedReturn = mapper.Map(resultType, $"{Location(cursor)}: result of {name}");
            result.Add(new FunctionModel(name, Doc(cursor), cSignature, managedReturn, parameters));
        }
        return result;
    }

    /// <summary>An object-like macro with the configured prefix whose body is one integer literal, optionally negated or parenthesised.</summary>
    private ConstantModel? ReadConstant(CXCursor cursor)
    {
        string name = Spelling(cursor);
        if (!name.StartsWith(_options.MacroPrefix, StringComparison.Ordinal)
            || LibClang.clang_Cursor_isMacroBuiltin(cursor) != 0
            || LibClang.clang_Cursor_isMacroFunctionLike(cursor) != 0)
            return null;

        var body = _unit.Tokens(cursor).Skip(1).ToList(); // the first token is the macro's name
        while (body.Count >= 2 && body[0].Spelling == "(" && body[^1].Spelling == ")")
            body = body.GetRange(1, body.Count - 2);
        bool negative = body.Count == 2 && body[0].Spelling == "-";
        if (negative)
            body.RemoveAt(0);
        if (body.Count != 1 || body[0].Kind != CXTokenKind.Literal || !TryParseInteger(body[0].Spelling, out long value))
            return null;

        return new ConstantModel(name, negative ? -value : value, DocComments.Above(_sourceLines, Line(cursor)));
    }

    /// <summary>Parses a C integer literal (decimal, hex, octal or binary; with u/l suffixes).</summary>
    internal static bool TryParseInteger(string literal, out long value)
    {
        value = 0;
        string text = literal.Replace("'", "").TrimEnd('u', 'U', 'l', 'L');
        if (text.Length == 0)
            return false;
        try
        {
            if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                return long.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && value >= 0;
            if (text.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
            {
                value = Convert.ToInt64(text[2..], 2);
                return value >= 0;
            }
            if (text.Length > 1 && text[0] == '0')
            {
                value = Convert.ToInt64(text[1..], 8);
                return value >= 0;
            }
        }
        catch (Exception exception) when (exception is FormatException or OverflowException or ArgumentException)
        {
            return false;
        }
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static DocComment Doc(CXCursor cursor) =>
        DocComments.FromRaw(LibClang.Consume(LibClang.clang_Cursor_getRawCommentText(cursor)));

    private static string Spelling(CXCursor cursor) => LibClang.Consume(LibClang.clang_getCursorSpelling(cursor));

    private static string Usr(CXCursor cursor) => LibClang.Consume(LibClang.clang_getCursorUSR(cursor));

    private static CXType Unelaborate(CXType type) =>
        type.Kind == CXTypeKind.Elaborated ? LibClang.clang_Type_getNamedType(type) : type;

    private static unsafe int Line(CXCursor cursor)
    {
        uint line, column, offset;
        LibClang.clang_getSpellingLocation(LibClang.clang_getCursorLocation(cursor), null, &line, &column, &offset);
        return (int)line;
    }

    private static unsafe string Location(CXCursor cursor)
    {
        void* file;
        uint line, column, offset;
        LibClang.clang_getSpellingLocation(LibClang.clang_getCursorLocation(cursor), &file, &line, &column, &offset);
        string fileName = file == null ? "<unknown>" : Path.GetFileName(LibClang.Consume(LibClang.clang_getFileName(file)));
        return $"{fileName}:{line}";
    }
}
