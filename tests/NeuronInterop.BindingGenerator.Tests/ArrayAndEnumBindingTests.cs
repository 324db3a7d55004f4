using NeuronInterop.BindingGenerator.Emit;
using NeuronInterop.BindingGenerator.Model;
using NeuronInterop.BindingGenerator.Parsing;
using NUnit.Framework;

namespace NeuronInterop.BindingGenerator.Tests;

/// <summary>
/// C declarations that <c>neuron.h</c> does not use today but a C API may: arrays reached through a
/// typedef, arrays of arrays, pointers to arrays and unsigned enums beyond <c>long</c>'s range. Each must
/// bind with the C layout and values, not a plausible-looking other one.
/// </summary>
public sealed class ArrayAndEnumBindingTests
{
    private const string Prelude = """
        #include <stdint.h>
        #define T_API __attribute__((visibility("default")))
        typedef float t_vec2[2];

        """;

    [Test]
    public void AFieldOfATypedefdArrayTypeIsAFixedBufferOfItsLength()
    {
        var (model, text) = Generate("typedef struct t_pair { t_vec2 v; int32_t n; } t_pair;");

        FieldModel v = Struct(model, "t_pair").Fields[0];
        Assert.That((v.ManagedType, v.FixedLength), Is.EqualTo(("float", (int?)2)));
        Assert.That(text, Does.Contain("public fixed float v[2];"));
        Assert.That(Struct(model, "t_pair").Fields[1].Offset, Is.EqualTo(8));
    }

    [Test]
    public void AFieldThatIsAnArrayOfArraysIsOneFixedBufferOfAllItsElements()
    {
        var (model, text) = Generate("typedef struct t_grid { float m[2][3]; t_vec2 corners[4]; int32_t n; } t_grid;");

        StructModel grid = Struct(model, "t_grid");
        Assert.That(grid.Fields.Select(f => (f.Name, f.ManagedType, f.FixedLength, f.Offset)), Is.EqualTo(new[]
        {
            ("m", "float", (int?)6, 0L),
            ("corners", "float", (int?)8, 24L),
            ("n", "int", (int?)null, 56L),
        }));
        Assert.That(grid.Size, Is.EqualTo(60));
        Assert.That(text, Does.Contain("public fixed float m[6];").And.Contain("public fixed float corners[8];"));
    }

    [Test]
    public void ArraysOfFixedWidthIntegersKeepTheirWidth()
    {
        // int64_t is long on Linux but long long elsewhere: the typedef, not the type behind it, gives the width.
        var (model, text) = Generate("""
            typedef int64_t t_shape[4];
            typedef struct t_dims { int64_t extents[2][3]; uint64_t seeds[2]; t_shape shape; uint8_t flags[3]; } t_dims;
            T_API void t_resize(int64_t (*extents)[3], const t_shape shape);
            """);

        Assert.That(Struct(model, "t_dims").Fields.Select(f => (f.Name, f.ManagedType, f.FixedLength)), Is.EqualTo(new[]
        {
            ("extents", "long", (int?)6),
            ("seeds", "ulong", (int?)2),
            ("shape", "long", (int?)4),
            ("flags", "byte", (int?)3),
        }));
        Assert.That(text, Does.Contain("public fixed long extents[6];").And.Contain("public fixed ulong seeds[2];"));
        Assert.That(model.Functions.Single(f => f.Name == "t_resize").Parameters.Select(p => p.ManagedType),
                    Is.EqualTo(new[] { "long*", "long*" }));
    }

    [Test]
    public void PointersToArraysAndArraysOfArraysArePointersToTheirFirstElement()
    {
        // Each parameter points at floats laid out one after another: a float* in C#.
        var (model, text) = Generate("T_API void t_rows(float (*rows)[3], float grid[][3], const t_vec2* pair, t_vec2 one);");

        FunctionModel rows = model.Functions.Single(f => f.Name == "t_rows");
        Assert.That(rows.Parameters.Select(p => p.ManagedType), Is.EqualTo(new[] { "float*", "float*", "float*", "float*" }));
        Assert.That(text, Does.Contain("internal static partial void t_rows(float* rows, float* grid, float* pair, float* one);"));
    }

    [Test]
    public void AnUnsigned64BitEnumKeepsValuesFrom2To63Up()
    {
        var (model, text) = Generate("typedef enum t_flag { T_FLAG_LOW = 1, T_FLAG_HIGH = 0x8000000000000000u, T_FLAG_ALL = 0xffffffffffffffffu } t_flag;");

        EnumModel flag = model.Types.OfType<EnumModel>().Single(e => e.Name == "t_flag");
        Assert.That(flag.UnderlyingType, Is.EqualTo("ulong"));
        Assert.That(flag.Members.Select(m => m.Value), Is.EqualTo(new Int128[] { 1, 9223372036854775808, 18446744073709551615 }));
        Assert.That(text, Does.Contain("T_FLAG_HIGH = 9223372036854775808,").And.Contain("T_FLAG_ALL = 18446744073709551615,"));
    }

    [Test]
    public void AnUnsigned32BitEnumBeyondIntIsAUintEnumOfItsValues()
    {
        var (model, text) = Generate("typedef enum t_mask { T_MASK_LOW = 1, T_MASK_TOP = 0x80000000u } t_mask;");

        EnumModel mask = model.Types.OfType<EnumModel>().Single(e => e.Name == "t_mask");
        Assert.That(mask.UnderlyingType, Is.EqualTo("uint"));
        Assert.That(text, Does.Contain("internal enum t_mask : uint").And.Contain("T_MASK_TOP = 2147483648,"));
    }

    [Test]
    public void ASigned64BitEnumKeepsItsNegativeValues()
    {
        var (model, text) = Generate("typedef enum t_wide { T_WIDE_LOW = -0x7fffffffffffffff - 1, T_WIDE_HIGH = 0x7fffffffffffffff } t_wide;");

        EnumModel wide = model.Types.OfType<EnumModel>().Single(e => e.Name == "t_wide");
        Assert.That(wide.UnderlyingType, Is.EqualTo("long"));
        Assert.That(text, Does.Contain("T_WIDE_LOW = -9223372036854775808,").And.Contain("T_WIDE_HIGH = 9223372036854775807,"));
    }

    private static StructModel Struct(HeaderModel model, string name) => model.Types.OfType<StructModel>().Single(s => s.Name == name);

    /// <summary>The model and the C# of a header made of <see cref="Prelude"/> and <paramref name="declarations"/>.</summary>
    private static (HeaderModel Model, string Text) Generate(string declarations)
    {
        string folder = Directory.CreateTempSubdirectory("neuron-bindings-").FullName;
        try
        {
            string header = Path.Combine(folder, "t.h");
            File.WriteAllText(header, Prelude + declarations + "\n");
            var (model, _) = HeaderParser.Parse(header, new ParseOptions([SystemIncludes.Find()], "T_"));
            string text = new CSharpEmitter(new EmitOptions("t.h", "test", "T", "TNative", "t")).Emit(model);
            return (model, text);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
