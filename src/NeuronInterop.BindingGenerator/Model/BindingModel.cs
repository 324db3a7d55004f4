namespace NeuronInterop.BindingGenerator.Model;

// What the generator knows about a C header, independent of libclang and of C#:
// parsing fills it (HeaderParser), emitting reads it (CSharpEmitter).

/// <summary>A doc comment, as plain text lines with the comment markers removed.</summary>
public sealed record DocComment(IReadOnlyList<string> Lines)
{
    public static readonly DocComment None = new(Array.Empty<string>());

    public bool IsEmpty => Lines.Count == 0;
}

/// <summary>Everything the header declares, in declaration order within each kind.</summary>
public sealed record HeaderModel(
    IReadOnlyList<ConstantModel> Constants,
    IReadOnlyList<TypeModel> Types,
    IReadOnlyList<FunctionModel> Functions);

/// <summary>An object-like macro whose body is one integer literal.</summary>
public sealed record ConstantModel(string Name, long Value, DocComment Doc);

/// <summary>A type declared by the header: an enum, a defined struct or an opaque struct.</summary>
public abstract record TypeModel(string Name, DocComment Doc);

/// <summary>A C enum; <see cref="UnderlyingType"/> is the managed integer type of its values.</summary>
public sealed record EnumModel(string Name, DocComment Doc, string UnderlyingType,
    IReadOnlyList<EnumMemberModel> Members) : TypeModel(Name, Doc);

/// <summary>An enumerator; <see cref="Value"/> holds any value of a signed or unsigned 64-bit enum.</summary>
public sealed record EnumMemberModel(string Name, Int128 Value, DocComment Doc);

/// <summary>A struct declared but never defined: only ever used through pointers.</summary>
public sealed record OpaqueStructModel(string Name, DocComment Doc) : TypeModel(Name, Doc);

/// <summary>A defined struct with its C size and alignment, both in bytes.</summary>
public sealed record StructModel(string Name, DocComment Doc, long Size, long Alignment,
    IReadOnlyList<FieldModel> Fields) : TypeModel(Name, Doc);

/// <summary>
/// A struct field. <see cref="FixedLength"/> is set for a C array field (emitted as a C# fixed
/// buffer of <see cref="ManagedType"/>); <see cref="Offset"/> is the C offset in bytes.
/// </summary>
public sealed record FieldModel(string Name, string ManagedType, int? FixedLength, long Offset,
    string CDeclaration, DocComment Doc);

/// <summary>An exported function with its C signature as declared and its managed signature.</summary>
public sealed record FunctionModel(string Name, DocComment Doc, string CSignature, string ManagedReturnType,
    IReadOnlyList<ParameterModel> Parameters);

public sealed record ParameterModel(string Name, string ManagedType);
