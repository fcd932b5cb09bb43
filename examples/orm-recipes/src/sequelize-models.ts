import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  type Model,
  type ModelStatic,
  type Sequelize,
} from 'sequelize'

/** A row of `notes` as Sequelize maps it. */
export interface SequelizeNote
  extends Model<InferAttributes<SequelizeNote>, InferCreationAttributes<SequelizeNote>> {
  id: CreationOptional<number>
  title: string
  writtenAt: CreationOptional<Date>
  seenAt: CreationOptional<Date>
  pause: CreationOptional<unknown>
  moods: CreationOptional<string[]>
  span: CreationOptional<unknown>
  total: CreationOptional<string>
  price: CreationOptional<string>
  writtenBy: CreationOptional<number>
  servedBy: CreationOptional<number>
}

/** Defines the `notes` model on `sequelize`. */
export function defineNote(sequelize: Sequelize): ModelStatic<SequelizeNote> {
  return sequelize.define<SequelizeNote>(
    'Note',
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      title: { type: DataTypes.TEXT, allowNull: false },
      writtenAt: { type: DataTypes.DATE(3), field: 'written_at' },
      seenAt: { type: DataTypes.DATE(3), field: 'seen_at' },
      pause: { type: DataTypes.STRING },
      moods: { type: DataTypes.ARRAY(DataTypes.ENUM('calm', 'glad', 'tense')) },
      span: { type: DataTypes.RANGE(DataTypes.INTEGER) },
      total: { type: DataTypes.BIGINT },
      price: { type: DataTypes.DECIMAL(12, 2) },
      writtenBy: { type: DataTypes.INTEGER, field: 'written_by' },
      servedBy: { type: DataTypes.INTEGER, field: 'served_by' },
    },
    { tableName: 'notes', timestamps: false },
  )
}
