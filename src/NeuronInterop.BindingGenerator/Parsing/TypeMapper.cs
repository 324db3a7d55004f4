using System.Text;
using System.Text.RegularExpressions;
using NeuronInterop.BindingGenerator.Interop;

namespace NeuronInterop.BindingGenerator.Parsing;

/// <summary>
/// Maps C types to blittable C# types: fixed-width integer typedefs to their C# integers,
/// size_t to nuint, pointers to typed pointers, the header's enums and structs to their
/// generated names. The target is the LP64 Linux ABI (plain <c>long</c> is pointer-sized).
/// </summary>
internal sealed partial class TypeMapper(IReadOnlyDictionary<string, string> namesByUsr)
{
    private static readonly Dictionary<string, string> WellKnownTypedefs = new(StringComparer.Ordinal)
    {
        ["int8_t"] = "sbyte",
        ["uint8_t"] = "byte",
        ["int16_t"] = "short",
        ["uint16_t"] = "ushort",
        ["int32_t"] = "int",
        ["uint32_t"] = "uint",
        ["int64_t"] = "long",
        ["uint64_t"] = "ulong",
        ["intptr_t"] = "nint",
        ["uintptr_t"] = "nuint",
        ["ptrdiff_t"] = "nint",
        ["ssize_t"] = "nint",
        ["size_t"] = "nuint",
    };

    /// <summary>The C# type for <paramref name="type"/>; <paramref name="where"/> names the use in errors.</summary>
    public string Map(CXType type, string where)
    {
        switch (type.Kind)
        {
            case CXTypeKind.Elaborated:
                return Map(LibClang.clang_Type_getNamedType(type), where);

            case CXTypeKind.Typedef:
            {
                CXCursor declaration = LibClang.clang_getTypeDeclaration(type);
                if (namesByUsr.TryGetValue(Usr(declaration), out string? declared))
                    return declared;
                string name = LibClang.Consume(LibClang.clang_getCursorSpelling(declaration));
                if (WellKnownTypedefs.TryGetValue(name, out string? wellKnown))
                    return wellKnown;
                return Map(LibClang.clang_getTypedefDeclUnderlyingType(declaration), where);
            }

            case CXTypeKind.Record:
            case CXTypeKind.Enum:
            {
                CXCursor declaration = LibClang.clang_getTypeDeclaration(type);
                if (namesByUsr.TryGetValue(Usr(declaration), out string? declared))
                    return declared;
                throw Unsupported(type, where, "it is not declared in the header");
            }

            case CXTypeKind.Pointer:
            {
                CXType pointee = LibClang.clang_getPointeeType(type);
                if (pointee.Kind is CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto)
                    return FunctionPointer(pointee, where);
                return PointerTo(pointee, where);
            }

            // Array parameters decay to pointers to their first element, of an array of arrays too
            // (float grid[][3] is a float (*)[3]); array fields are handled by the caller.
            case CXTypeKind.ConstantArray:
            case CXTypeKind.IncompleteArray:
                return PointerTo(LibClang.clang_getArrayElementType(type), where);

            case CXTypeKind.Void: return "void";
            case CXTypeKind.Bool: return "byte";
            case CXTypeKind.Char_S: return "byte";
            case CXTypeKind.Char_U: return "byte";
            case CXTypeKind.SChar: return "sbyte";
            case CXTypeKind.UChar: return "byte";
            case CXTypeKind.Short: return "short";
            case CXTypeKind.UShort: return "ushort";
            case CXTypeKind.Int: return "int";
            case CXTypeKind.UInt: return "uint";
            case CXTypeKind.Long: return "nint";
            case CXTypeKind.ULong: return "nuint";
            case CXTypeKind.LongLong: return "long";
            case CXTypeKind.ULongLong: return "ulong";
            case CXTypeKind.Float: return "float";
            case CXTypeKind.Double: return "double";

            default:
                throw Unsupported(type, where, $"type kind {type.Kind} has no blittable C# equivalent");
        }
    }

    /// <summary>The C spelling of a type in a declaration of <paramref name="name"/>, in the header's style (<c>const int64_t* shape</c>).</summary>
    public static string CDeclaration(CXType type, string name)
    {
        string spelling = Spelling(type);
        int functionPointer = spelling.IndexOf("(*)", StringComparison.Ordinal);
        if (functionPointer >= 0)
            return spelling.Insert(functionPointer + 2, name);
        int array = spelling.IndexOf('[');
        if (array >= 0)
            return (spelling[..array].TrimEnd() + " " + name + spelling[array..]).TrimEnd();
        return name.Length == 0 ? spelling : spelling + " " + name;
    }

    /// <summary>clang's spelling of a type with the pointer star attached to the type (<c>char*</c>, not <c>char *</c>).</summary>
    public static string Spelling(CXType type)
    {
        string spelling = LibClang.Consume(LibClang.clang_getTypeSpelling(type));
        spelling = SpaceBeforeStar().Replace(spelling, "*");
        return StarBeforeQualifier().Replace(spelling, "* ");
    }

    private string FunctionPointer(CXType function, string where)
    {
        if (function.Kind == CXTypeKind.FunctionNoProto || LibClang.clang_isFunctionTypeVariadic(function) != 0)
            throw Unsupported(function, where, "a function pointer needs a prototype without varargs");
        var builder = new StringBuilder("delegate* unmanaged[Cdecl]<");
        int count = LibClang.clang_getNumArgTypes(function);
        for (int i = 0; i < count; i++)
            builder.Append(Map(LibClang.clang_getArgType(function, (uint)i), where)).Append(", ");
        return builder.Append(Map(LibClang.clang_getResultType(function), where)).Append('>').ToString();
    }

    /// <summary>
    /// A pointer to <paramref name="pointee"/>. A pointer to an array (<c>float (*)[3]</c>, or to a typedef'd one) is
    /// a pointer to its first element, as the array itself maps to one.
    /// </summary>
    private string PointerTo(CXType pointee, string where)
    {
        bool array = LibClang.clang_getCanonicalType(pointee).Kind is CXTypeKind.ConstantArray or CXTypeKind.IncompleteArray;
        return array ? Map(pointee, where) : Map(pointee, where) + "*";
    }

    private static string Usr(CXCursor cursor) => LibClang.Consume(LibClang.clang_getCursorUSR(cursor));

    private static GeneratorException Unsupported(CXType type, string where, string reason) =>
        new($"{where}: cannot bind type '{LibClang.Consume(LibClang.clang_getTypeSpelling(type))}': {reason}.");

    [GeneratedRegex(@"\s+\*")]
    private static partial Regex SpaceBeforeStar();

    [GeneratedRegex(@"\*(?=(const|volatile|restrict)\b)")]
    private static partial Regex StarBeforeQualifier();
}
